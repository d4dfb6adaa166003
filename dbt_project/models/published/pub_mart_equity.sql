{{ config(alias='mart_equity') }}
-- Published twin of marts.mart_equity with methods §9 below England level: counts of people and of
-- appointments rounded or suppressed; the rate, shares and change from the rounded counts; the mean
-- SWEMWBS change NULL when it rests on 1..7 people.
with mart as (
    {{ with_geography_ancestors(ref('mart_equity')) }}
)

select
    geography_level,
    geography_code,
    geography_name,
    coalesce(region_code, 'UNK') as region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    cohort_fy,
    dimension,
    value,
    {{ suppress_count('registered_population') }} as registered_population,
    {{ suppress_count('referrals') }} as referrals,
    {{ suppressed_rate('referrals', 'registered_population', 1000) }} as referrals_per_1000,
    {{ suppress_count('people_engaged') }} as people_engaged,
    {{ suppressed_pct('people_engaged', 'referrals') }} as engaged_pct,
    {{ suppress_count('outcome_n_patients') }} as outcome_n_patients,
    {{ suppress_count('gp_pre_total') }} as gp_pre_total,
    {{ suppress_count('gp_post_total') }} as gp_post_total,
    {{ suppress_measure(
        "cast(100.0 * (" ~ suppress_count('gp_post_total') ~ " - " ~ suppress_count('gp_pre_total') ~ ") / nullif("
        ~ suppress_count('gp_pre_total') ~ ", 0) as " ~ dbt.type_float() ~ ")",
        'outcome_n_patients'
    ) }} as gp_pct_change,
    {{ suppress_count('swemwbs_n_paired') }} as swemwbs_n_paired,
    {{ suppress_measure('swemwbs_mean_change', 'swemwbs_n_paired') }} as swemwbs_mean_change,
    {{ suppress_flag([
        'registered_population', 'referrals', 'people_engaged', 'outcome_n_patients',
        'gp_pre_total', 'gp_post_total', 'swemwbs_n_paired'
    ]) }} as is_suppressed
from mart
