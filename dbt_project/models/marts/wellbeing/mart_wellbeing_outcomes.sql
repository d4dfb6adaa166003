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
    select
        l.geography_level,
        {{ geography_code_at('l.geography_level') }} as geography_code,
        {{ geography_name_at('l.geography_level') }} as geography_name,
        {{ geography_region_at('l.geography_level') }} as region_code,
        r.cohort_fy_group,
        r.instrument,
        r.item,
        r.is_paired,
        r.is_baseline_only,
        r.is_followup_only,
        r.is_improved,
        r.baseline_score,
        r.followup_score,
        r.score_change
    from with_all_years as r
    cross join {{ ref('geography_levels') }} as l
    where {{ geography_code_at('l.geography_level') }} is not null
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
    cast(baseline_mean as {{ dbt.type_float() }}) as baseline_mean,
    cast(followup_mean as {{ dbt.type_float() }}) as followup_mean,
    cast(mean_change as {{ dbt.type_float() }}) as mean_change,
    cast(case when n_paired >= 2 then mean_change - 1.96 * sd_change / sqrt(n_paired) end as {{ dbt.type_float() }})
        as mean_change_ci_low,
    cast(case when n_paired >= 2 then mean_change + 1.96 * sd_change / sqrt(n_paired) end as {{ dbt.type_float() }})
        as mean_change_ci_high,
    cast(100.0 * n_improved / nullif(n_paired, 0) as {{ dbt.type_float() }}) as improved_pct,
    cast(100.0 * n_paired / nullif(n_paired + n_baseline_only, 0) as {{ dbt.type_float() }}) as followup_rate_pct
from summary
