-- Eligible index patient x window x measure with its controls' mean pre/post counts and the
-- patient's difference-in-differences contribution e_i (methods §4). Unmatched patients keep NULLs.
with index_measures as (
    select * from {{ ref('int_cohort_measures') }}
),

controls as (
    select * from {{ ref('int_matched_controls') }}
),

measures as (
    {%- for m in demand_measures() %}
        select '{{ m }}' as measure
        {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

control_spine as (
    select
        c.index_key,
        c.window_months,
        c.control_key,
        c.index_date,
        c.pre_start,
        c.post_end,
        m.measure
    from controls as c
    cross join measures as m
),

control_counts as (
    select
        s.index_key,
        s.window_months,
        s.control_key,
        s.measure,
        {{ pre_window_sum('e.event_date', 'e.event_value', 's.pre_start', 's.index_date') }} as pre_count,
        {{ post_window_sum('e.event_date', 'e.event_value', 's.index_date', 's.post_end') }} as post_count
    from control_spine as s
    left join {{ ref('int_patient_events') }} as e
        on
            s.control_key = e.patient_key
            and s.measure = e.measure
            and s.pre_start <= e.event_date
            and s.post_end >= e.event_date
    group by s.index_key, s.window_months, s.control_key, s.measure
),

control_means as (
    select
        index_key,
        window_months,
        measure,
        count(*) as n_controls,
        avg(cast(pre_count as {{ dbt.type_numeric() }})) as control_pre_mean,
        avg(cast(post_count as {{ dbt.type_numeric() }})) as control_post_mean
    from control_counts
    group by index_key, window_months, measure
)

select
    i.patient_key,
    i.window_months,
    i.measure,
    i.pre_count,
    i.post_count,
    coalesce(c.n_controls, 0) as n_controls,
    c.n_controls is not null as is_matched,
    c.control_pre_mean,
    c.control_post_mean,
    (i.post_count - i.pre_count) - (c.control_post_mean - c.control_pre_mean) as did_contribution
from index_measures as i
left join control_means as c
    on
        i.patient_key = c.index_key
        and i.window_months = c.window_months
        and i.measure = c.measure
