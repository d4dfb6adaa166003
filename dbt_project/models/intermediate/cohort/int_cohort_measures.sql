-- Eligible index patient x window x measure: totals in the pre and post windows, zero-filled.
-- Each eligible row reads its patient's timeline once and counts every measure from it.
with windows as (
    select * from {{ ref('int_cohort_windows') }}
    where is_eligible
),

timelines as (
    select * from {{ ref('int_patient_timelines') }}
),

counted as (
    select
        w.patient_key,
        w.window_months,
    {%- for m in demand_measures() %}
        coalesce({{ timeline_pre_total('t', m, 'w.pre_start', 'w.index_date') }}, 0) as pre_{{ m }},
        coalesce({{ timeline_post_total('t', m, 'w.index_date', 'w.post_end') }}, 0) as post_{{ m }}
        {{- ',' if not loop.last }}
    {%- endfor %}
    from windows as w
    left join timelines as t on w.patient_key = t.patient_key
)

{%- for m in demand_measures() %}

    select
        patient_key,
        window_months,
        '{{ m }}' as measure,
        pre_{{ m }} as pre_count,
        post_{{ m }} as post_count
    from counted
    {%- if not loop.last %}
        union all
    {%- endif %}
{%- endfor %}
