-- Wellbeing outcomes (methods §7) per geography level, cohort financial year (and 'all'),
-- instrument and item, unsuppressed. Means are over paired referrals; the change is follow-up minus
-- baseline with a 95% CI of mean +/- 1.96 x sample sd / sqrt(n) (NULL for n < 2, as methods §3).
with pairs as (
    select * from {{ ref('int_wellbeing_pairs') }}
),

with_all_years as (
    select
        *,
        cohort_fy as cohort_fy_group
    from pairs
    where cohort_fy is not null
    union all
    select
        *,
        'all' as cohort_fy_group
    from pairs
),

long_form as (
    {%- for l in reporting_levels() %}
        select
            {{ geography_level_columns(l) }},
            cohort_fy_group,
            instrument,
            item,
            is_paired,
            is_baseline_only,
            is_followup_only,
            is_improved,
            baseline_score,
            followup_score,
            score_change
        from with_all_years
        {%- if l.level != 'england' %}
            where {{ l.code }} is not null
        {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

summary as (
    select
        geography_level,
        geography_code,
        max(geography_name) as geography_name,
        max(region_code) as region_code,
        cohort_fy_group as cohort_fy,
        instrument,
        item,
        sum(case when is_paired then 1 else 0 end) as n_paired,
        sum(case when is_baseline_only then 1 else 0 end) as n_baseline_only,
        sum(case when is_followup_only then 1 else 0 end) as n_followup_only,
        sum(case when is_improved then 1 else 0 end) as n_improved,
        avg(case when is_paired then baseline_score end) as baseline_mean,
        avg(case when is_paired then followup_score end) as followup_mean,
        avg(case when is_paired then score_change end) as mean_change,
        {{ sample_stddev('case when is_paired then score_change end') }} as sd_change
    from long_form
    group by geography_level, geography_code, cohort_fy_group, instrument, item
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    cohort_fy,
    instrument,
    item,
    cast(n_paired as bigint) as n_paired,
    cast(n_baseline_only as bigint) as n_baseline_only,
    cast(n_followup_only as bigint) as n_followup_only,
    cast(n_improved as bigint) as n_improved,
    case when instrument = 'ONS4' and item = 'anxious' then 'decrease' else 'increase' end as improvement_direction,
    cast(baseline_mean as {{ type_double() }}) as baseline_mean,
    cast(followup_mean as {{ type_double() }}) as followup_mean,
    cast(mean_change as {{ type_double() }}) as mean_change,
    cast(case when n_paired >= 2 then mean_change - 1.96 * sd_change / sqrt(n_paired) end as {{ type_double() }})
        as mean_change_ci_low,
    cast(case when n_paired >= 2 then mean_change + 1.96 * sd_change / sqrt(n_paired) end as {{ type_double() }})
        as mean_change_ci_high,
    cast(100.0 * n_improved / nullif(n_paired, 0) as {{ type_double() }}) as improved_pct,
    cast(100.0 * n_paired / nullif(n_paired + n_baseline_only, 0) as {{ type_double() }}) as followup_rate_pct
from summary
