-- Eligible index patient x window x measure: counts in the pre and post windows, zero-filled.
with windows as (
    select * from {{ ref('int_cohort_windows') }}
    where is_eligible
),

measures as (
    {%- for m in demand_measures() %}
        select '{{ m }}' as measure
        {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

events as (
    select * from {{ ref('int_patient_events') }}
),

spine as (
    select
        w.patient_key,
        w.window_months,
        w.index_date,
        w.pre_start,
        w.post_end,
        m.measure
    from windows as w
    cross join measures as m
)

select
    s.patient_key,
    s.window_months,
    s.measure,
    {{ pre_window_sum('e.event_date', 'e.event_value', 's.pre_start', 's.index_date') }} as pre_count,
    {{ post_window_sum('e.event_date', 'e.event_value', 's.index_date', 's.post_end') }} as post_count
from spine as s
left join events as e
    on
        s.patient_key = e.patient_key
        and s.measure = e.measure
        and s.pre_start <= e.event_date
        and s.post_end >= e.event_date
group by s.patient_key, s.window_months, s.measure
