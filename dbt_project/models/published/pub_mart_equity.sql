{{ config(alias='mart_equity') }}
-- Published twin of marts.mart_equity with methods §9 at every level: counts of people and of
-- appointments rounded or suppressed; the rate, the engaged share and the GP change from the rounded
-- counts; the mean SWEMWBS change from its rounded total over the rounded number paired.
with mart_rows as (
    {{ with_geography_ancestors(ref('mart_equity')) }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['geography_level', 'geography_code', 'geography_name', 'region_code', 'icb_code',
        'sub_icb_code', 'pcn_code', 'region_name', 'icb_name',
        'sub_icb_name', 'pcn_name', 'cohort_fy', 'dimension', 'value', 'swemwbs_mean_change'
    ] %}
    select
        {{ published_counts('mart_equity', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_equity') }}
)

select
    geography_level,
    geography_code,
    geography_name,
    coalesce(region_code, 'UNK') as region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    region_name,
    icb_name,
    sub_icb_name,
    pcn_name,
    cohort_fy,
    dimension,
    value,
    {{ round_count('registered_population') }} as registered_population,
    {{ round_count('referrals') }} as referrals,
    {{ mean_from_rounded('referrals', 'registered_population', 1000) }} as referrals_per_1000,
    {{ round_count('people_engaged') }} as people_engaged,
    {{ mean_from_rounded('people_engaged', 'referrals', 100) }} as engaged_pct,
    {{ round_count('outcome_n_patients') }} as outcome_n_patients,
    {{ round_count('gp_pre_total') }} as gp_pre_total,
    {{ round_count('gp_post_total') }} as gp_post_total,
    {{ mean_from_rounded('gp_post_total', 'gp_pre_total', 100, 'outcome_n_patients') }} - 100 as gp_pct_change,
    {{ round_count('swemwbs_n_paired') }} as swemwbs_n_paired,
    {{ mean_from_rounded(
        'swemwbs_mean_change * swemwbs_n_paired', 'swemwbs_n_paired', numerator_is_count=false
    ) }} as swemwbs_mean_change,
    is_suppressed
from mart
