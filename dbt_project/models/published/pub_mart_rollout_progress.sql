{{ config(alias='mart_rollout_progress') }}
-- Published twin of marts.mart_rollout_progress with methods §9 at every level: people and referral
-- counts and the registered population rounded or suppressed; the pro-rata ambition and the
-- percentage of it from the rounded figures. WTE, entitlement and programme cost are published as
-- they are (workforce, not people).
with mart_rows as (
    {{ with_geography_ancestors(ref('mart_rollout_progress')) }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['geography_level', 'geography_code', 'geography_name', 'region_code', 'icb_code',
        'sub_icb_code', 'pcn_code', 'region_name', 'icb_name',
        'sub_icb_name', 'pcn_name', 'financial_year', 'as_at_month', 'ambition_financial_year',
        'is_ambition_year', 'arrs_entitlement_wte', 'link_worker_wte', 'gap_wte', 'wte_pct_of_entitlement',
        'link_worker_wte_years', 'programme_cost_gbp'
    ] %}
    select
        {{ published_counts('mart_rollout_progress', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_rollout_progress') }}
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
    financial_year,
    as_at_month,
    {{ round_count('registered_population') }} as registered_population,
    {{ round_count('referrals') }} as referrals,
    {{ round_count('cumulative_referrals') }} as cumulative_referrals,
    {{ round_count('all_referrals') }} as all_referrals,
    {{ round_count('cumulative_all_referrals') }} as cumulative_all_referrals,
    ambition_financial_year,
    is_ambition_year,
    {{ mean_from_rounded(
        'registered_population', var('england_registered_population'), var('national_referral_ambition'),
        denominator_is_count=false
    ) }} as pro_rata_ambition,
    {{ mean_from_rounded(
        'cumulative_referrals', 'registered_population',
        '(100.0 * ' ~ var('england_registered_population') ~ ' / ' ~ var('national_referral_ambition') ~ ')'
    ) }} as pct_of_ambition,
    arrs_entitlement_wte,
    link_worker_wte,
    gap_wte,
    wte_pct_of_entitlement,
    link_worker_wte_years,
    programme_cost_gbp,
    is_suppressed
from mart
