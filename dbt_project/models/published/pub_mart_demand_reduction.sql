{{ config(alias='mart_demand_reduction') }}
-- Published twin of marts.mart_demand_reduction with methods §9 applied below England level:
-- counts of people and events (patients, pre/post totals incl. bed days, matched/unmatched) 0 stay 0,
-- 1-7 NULL, 8+ rounded to 5; means and intervals NULL when their person count (n_patients, or
-- n_matched for the matched design) is 1-7; pct_change and cost_change_gbp from the rounded totals.
with mart as (
    select * from {{ ref('mart_demand_reduction') }}
),

published as (
    select
        *,
        {{ suppress_count('n_patients') }} as pub_n_patients,
        {{ suppress_count('pre_total') }} as pub_pre_total,
        {{ suppress_count('post_total') }} as pub_post_total,
        {{ suppress_count('n_matched') }} as pub_n_matched,
        {{ suppress_count('n_unmatched') }} as pub_n_unmatched
    from mart
)

select
    design,
    geography_level,
    geography_code,
    geography_name,
    region_code,
    cohort_fy,
    population,
    subgroup,
    window_months,
    measure,
    pub_n_patients as n_patients,
    pub_pre_total as pre_total,
    pub_post_total as post_total,
    {{ suppress_measure('pre_mean', 'n_patients') }} as pre_mean,
    {{ suppress_measure('post_mean', 'n_patients') }} as post_mean,
    {{ suppress_measure(
        'cast(100 * (pub_post_total - pub_pre_total) as ' ~ dbt.type_float() ~ ') / nullif(pub_pre_total, 0)',
        'n_patients'
    ) }} as pct_change,
    {{ suppress_measure('pct_change_ci_low', 'n_patients') }} as pct_change_ci_low,
    {{ suppress_measure('pct_change_ci_high', 'n_patients') }} as pct_change_ci_high,
    pub_n_matched as n_matched,
    pub_n_unmatched as n_unmatched,
    {{ suppress_measure('control_pre_mean', 'n_matched') }} as control_pre_mean,
    {{ suppress_measure('control_post_mean', 'n_matched') }} as control_post_mean,
    {{ suppress_measure('did_mean', 'n_matched') }} as did_mean,
    {{ suppress_measure('did_ci_low', 'n_matched') }} as did_ci_low,
    {{ suppress_measure('did_ci_high', 'n_matched') }} as did_ci_high,
    {{ suppress_measure('did_pct', 'n_matched') }} as did_pct,
    {{ suppress_measure('did_pct_ci_low', 'n_matched') }} as did_pct_ci_low,
    {{ suppress_measure('did_pct_ci_high', 'n_matched') }} as did_pct_ci_high,
    cost_gbp,
    cast((pub_post_total - pub_pre_total) * cost_gbp as {{ dbt.type_numeric() }}) as cost_change_gbp,
    {{ suppress_flag(['n_patients', 'pre_total', 'post_total', 'n_matched', 'n_unmatched']) }} as is_suppressed
from published
