-- Eligible index patient x window x measure with its controls' mean pre/post counts and the
-- patient's difference-in-differences contribution e_i (methods §4). Unmatched patients keep NULLs.
-- Incremental (macros/incremental.sql): a build after the first recomputes the index rows int_match_todo
-- invalidated since, and those whose patient or controls have activity loaded or replaced since, or an
-- open emergency spell (its bed days run to the cut-off), dated in their windows.
-- depends_on: {{ source('audit', 'replaced_records') }}, {{ ref('int_raw_state') }}, {{ ref('int_match_index') }}
{{ config(
    materialized='incremental',
    unique_key=['patient_key', 'window_months'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['todo_through']}, {'columns': ['loaded_through']}],
    pre_hook=["{{ avoid_nested_loops() }}", "{{ forget_if_raw_drifted(this, event_inputs()) }}"],
    post_hook="{{ forget_stale_index_rows(this, 'patient_key') }}",
) }}

with {{ todo_rows(this) }},

{%- if is_incremental() %}

    changed_activity as (
        {{ changed_activity(this, event_inputs()) }}
    ),

    windows as (
        -- whose activity counts for an index row: its controls' and the index patient's own
        select
            control_key as patient_key,
            index_key,
            window_months,
            pre_start,
            post_end
        from {{ ref('int_matched_controls') }}
        union all
        select
            index_key as patient_key,
            index_key,
            window_months,
            pre_start,
            post_end
        from {{ ref('int_match_index') }}
    ),

    touched as (
        select distinct
            w.index_key,
            w.window_months
        from windows as w
        inner join changed_activity as a
            on
                w.patient_key = a.patient_key
                and w.pre_start <= a.event_date
                and w.post_end >= a.event_date
    ),

    recompute as (
        select * from todo
        union
        select * from touched
    ),
{%- else %}

    recompute as (
        select * from todo
    ),
{%- endif %}

index_measures as (
    select m.*
    from {{ ref('int_cohort_measures') }} as m
    inner join recompute as r
        on
            m.patient_key = r.index_key
            and m.window_months = r.window_months
),

controls as (
    select c.*
    from {{ ref('int_matched_controls') }} as c
    inner join recompute as r
        on
            c.index_key = r.index_key
            and c.window_months = r.window_months
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
    {{ unpivot_measures('control_counts', ['index_key', 'window_months', 'control_key'], demand_measures()) }}
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
    (i.post_count - i.pre_count) - (c.control_post_mean - c.control_pre_mean) as did_contribution,
    {{ todo_through() }} as todo_through,
    s.loaded_through,
    s.raw_drift
from index_measures as i
cross join ({{ input_state(event_inputs()) }}) as s
left join control_means as c
    on
        i.patient_key = c.index_key
        and i.window_months = c.window_months
        and i.measure = c.measure
