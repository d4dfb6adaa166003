{{ config(alias='mart_wellbeing_outcomes') }}
-- Published twin of marts.mart_wellbeing_outcomes with methods §9: counts rounded or suppressed below
-- England level; means, CI and percentages NULL when n_paired is 1..7; percentages from the rounded
-- counts.
with mart as (
    {{ with_geography_ancestors(ref('mart_wellbeing_outcomes')) }}
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
    instrument,
    item,
    {{ suppress_count('n_paired') }} as n_paired,
    {{ suppress_count('n_baseline_only') }} as n_baseline_only,
    {{ suppress_count('n_followup_only') }} as n_followup_only,
    {{ suppress_count('n_improved') }} as n_improved,
    improvement_direction,
    {{ suppress_measure('baseline_mean', 'n_paired') }} as baseline_mean,
    {{ suppress_measure('followup_mean', 'n_paired') }} as followup_mean,
    {{ suppress_measure('mean_change', 'n_paired') }} as mean_change,
    {{ suppress_measure('mean_change_ci_low', 'n_paired') }} as mean_change_ci_low,
    {{ suppress_measure('mean_change_ci_high', 'n_paired') }} as mean_change_ci_high,
    {{ suppressed_pct('n_improved', 'n_paired') }} as improved_pct,
    {{ suppressed_pct('n_paired', '(n_paired + n_baseline_only)') }} as followup_rate_pct,
    {{ suppress_flag(['n_paired', 'n_baseline_only', 'n_followup_only', 'n_improved']) }} as is_suppressed
from mart
