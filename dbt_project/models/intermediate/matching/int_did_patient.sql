-- Eligible index patient x window x measure with its controls' mean pre/post counts and the
-- patient's difference-in-differences contribution e_i (methods §4). Unmatched patients keep NULLs.
{{ config(pre_hook="{{ avoid_nested_loops() }}") }}

with index_measures as (
    select * from {{ ref('int_cohort_measures') }}
),

controls as (
    select * from {{ ref('int_matched_controls') }}
),

timelines as (
    select * from {{ ref('int_patient_timelines') }}
),

control_counts as (
    -- each control's counts over the index patient's calendar windows, every measure from one read
    select
        c.index_key,
        c.window_months,
        c.control_key,
    {%- for m in demand_measures() %}
        {{ timeline_pre_total('t', m, 'c.pre_start', 'c.index_date') }} as pre_{{ m }},
        {{ timeline_post_total('t', m, 'c.index_date', 'c.post_end') }} as post_{{ m }}
        {{- ',' if not loop.last }}
    {%- endfor %}
    from controls as c
    left join timelines as t on c.control_key = t.patient_key
),

control_rows as (
    {%- for m in demand_measures() %}
        select
            index_key,
            window_months,
            control_key,
            '{{ m }}' as measure,
            pre_{{ m }} as pre_count,
            post_{{ m }} as post_count
        from control_counts
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

control_means as (
    select
        index_key,
        window_months,
        measure,
        count(*) as n_controls,
        avg(cast(pre_count as {{ dbt.type_numeric() }})) as control_pre_mean,
        avg(cast(post_count as {{ dbt.type_numeric() }})) as control_post_mean
    from control_rows
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
