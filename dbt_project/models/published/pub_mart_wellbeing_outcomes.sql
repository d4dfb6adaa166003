{{ config(alias='mart_wellbeing_outcomes') }}
-- Published twin of marts.mart_wellbeing_outcomes with methods §9 at every level: counts rounded or
-- suppressed; the means from the rounded score totals over the rounded n_paired (the change is
-- follow-up minus baseline of those); the change's interval around the published change, to 2 dp,
-- for 8 or more paired people; percentages from the rounded counts.
with mart_rows as (
    {{ with_geography_ancestors(ref('mart_wellbeing_outcomes')) }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['geography_level', 'geography_code', 'geography_name', 'region_code', 'icb_code',
        'sub_icb_code', 'pcn_code', 'region_name', 'icb_name',
        'sub_icb_name', 'pcn_name', 'cohort_fy', 'instrument', 'item', 'improvement_direction',
        'baseline_mean', 'followup_mean', 'mean_change', 'mean_change_ci_low', 'mean_change_ci_high'
    ] %}
    select
        {{ published_counts('mart_wellbeing_outcomes', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_wellbeing_outcomes') }}
),

published as (
    select
        *,
        {{ mean_from_rounded('baseline_mean * n_paired', 'n_paired', numerator_is_count=false) }}
            as pub_baseline_mean,
        {{ mean_from_rounded('followup_mean * n_paired', 'n_paired', numerator_is_count=false) }}
            as pub_followup_mean
    from mart
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
    instrument,
    item,
    {{ round_count('n_paired') }} as n_paired,
    {{ round_count('n_baseline_only') }} as n_baseline_only,
    {{ round_count('n_followup_only') }} as n_followup_only,
    {{ round_count('n_improved') }} as n_improved,
    improvement_direction,
    pub_baseline_mean as baseline_mean,
    pub_followup_mean as followup_mean,
    pub_followup_mean - pub_baseline_mean as mean_change,
    {{ interval_around('pub_followup_mean - pub_baseline_mean', 'mean_change', 'mean_change_ci_low', 'n_paired') }}
        as mean_change_ci_low,
    {{ interval_around('pub_followup_mean - pub_baseline_mean', 'mean_change', 'mean_change_ci_high', 'n_paired') }}
        as mean_change_ci_high,
    {{ mean_from_rounded('n_improved', 'n_paired', 100) }} as improved_pct,
    {{ mean_from_rounded('n_paired', 'n_paired + n_baseline_only', 100) }} as followup_rate_pct,
    is_suppressed
from published
