-- One row per patient with an event of any measure of methods §2: for each measure m, <m>_dates, the
-- dates of the patient's events ascending (NULL when none), and for measures with a value
-- (emergency_bed_days) <m>_running, the running total of the values in the same order.
-- Window counts are then binary searches on these arrays (macros/timelines.sql), so their cost follows
-- the patients asked about, not every event of every patient, and each consumer joins a patient once.
-- Each source is read once: one pass groups a patient's events of every measure counted on it
-- (definitions in macros/measures.sql, shared with int_patient_events).
-- Incremental (macros/incremental.sql), source by source. A build after the first touches only
-- patients with rows loaded or replaced since, and of each patient only the arrays of the sources
-- (GP appointments, A&E, admissions) that changed. When all of a patient's new rows of a source are
-- dated after everything that source's arrays hold (a new month: nearly everyone), the new dates are
-- appended (and the new bed days' running totals carried on from the last total); after a replaced
-- or late record of a source, or an open emergency spell (its bed days run to the cut-off), that
-- source's arrays are rebuilt from all of the patient's rows of it. Either way the row is what a full
-- rebuild gives, and a month of GP appointments never makes the build read all of them.
-- depends_on: {{ source('audit', 'replaced_records') }}, {{ ref('int_raw_state') }}
{{ config(
    materialized='incremental',
    unique_key='patient_key',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['loaded_through']}],
    pre_hook=["{{ avoid_nested_loops() }}", "{{ forget_if_raw_drifted(this, event_inputs()) }}"],
    post_hook="{{ forget_replaced(this, event_inputs(), 'r.patient_key = t.patient_key') }}",
) }}
{%- set groups = {
    'appointments': ('stg_gp__appointments', 'gp_appointments'),
    'attendances': ('stg_ecds__attendances', 'ae_attendances'),
    'admissions': ('stg_apc__admissions', 'inpatient_admissions'),
} %}

with raw_state as (
    {{ input_state(event_inputs()) }}
),

{%- if is_incremental() %}
    {%- set since = loaded_since(this, event_inputs()) %}
    {%- for g, (model, source_name) in groups.items() %}

        first_new_{{ g }} as (
            -- each patient's earliest date among their rows of the source loaded since
            select
                patient_key,
                min({{ event_source_columns(g).date }}) as first_new_date
            from {{ ref(model) }}
            where loaded_at > {{ since }} and patient_key is not null
            group by patient_key
        ),

        changed_{{ g }} as (
            -- a record replaced since (old and new versions' patients); open spells' bed days run to the cut-off
            select patient_key from {{ source('audit', 'replaced_records') }}
            where source = '{{ source_name }}' and replaced_at > {{ since }} and patient_key is not null
            {%- if g == 'admissions' %}
                union
                select patient_key from {{ ref(model) }}
                where discharge_date is null and patient_key is not null
            {%- endif %}
        ),
    {%- endfor %}

    touched as (
        {%- for g in groups %}
            select patient_key from first_new_{{ g }}
            union
            select patient_key from changed_{{ g }}
            {{- '\n            union' if not loop.last }}
        {%- endfor %}
    ),

    -- noqa: disable=LT02
    -- (sqlfluff cannot place the Jinja loops of the select lists below)
    previous as (
        -- narrow: the wide rows are read once, by the final join
        select
            t.patient_key,
            {%- for g in groups %}
            {{ timeline_last_date('t', g) }} as last_{{ g }}_date{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ this }} as t
        inner join touched as k on t.patient_key = k.patient_key
    ),
    -- noqa: enable=LT02
    {%- for g in groups %}

        rebuilt_{{ g }} as (
            select f.patient_key
            from first_new_{{ g }} as f
            inner join previous as p on f.patient_key = p.patient_key
            where f.first_new_date <= p.last_{{ g }}_date
            union
            select patient_key from changed_{{ g }}
        ),

        appended_{{ g }} as (
            select patient_key from first_new_{{ g }}
            except
            select patient_key from rebuilt_{{ g }}
        ),
    {%- endfor %}

    {{ event_sources({'appointments': 'rebuilt_appointments', 'attendances': 'rebuilt_attendances',
        'admissions': 'rebuilt_admissions'}, prefix='all_') }},

    {{ timeline_ctes('all_', with_timelines=false) }},

    {{ event_sources({'appointments': 'appended_appointments', 'attendances': 'appended_attendances',
        'admissions': 'appended_admissions'}, prefix='new_', loaded_after=since) }},

    {{ timeline_ctes('new_', with_timelines=false) }},

    orphans as (
        -- had a row, and every source they changed in was rebuilt empty (all its records replaced
        -- away) with nothing appended: only patients of the rebuilt sets can be such
        select r.patient_key
        from (
            {%- for g in groups %}
                select patient_key from rebuilt_{{ g }}
                {{- '\n                union' if not loop.last }}
            {%- endfor %}
        ) as r
        inner join previous as p on r.patient_key = p.patient_key
        {%- for g in groups %}
            except
            select patient_key from appended_{{ g }}
            except
            select patient_key from all_{{ g }}_dates
        {%- endfor %}
    ),

    orphans_kept as (
        -- those of them with rows in a source not rebuilt (read only when there are such patients)
        {%- for g, (model, source_name) in groups.items() %}
            select o.patient_key
            from orphans as o
            inner join {{ ref(model) }} as a on o.patient_key = a.patient_key
            {{- '\n            union' if not loop.last }}
        {%- endfor %}
    ),

    -- noqa: disable=LT02
    timelines as (
        select
            k.patient_key,
            {%- for m in event_measures() if 'value' not in m %}
            {%- set g = m.source %}
            case
                when rb_{{ g }}.patient_key is not null
                    then {{ sort_date_array('all_' ~ g ~ '_dates.' ~ m.measure) }}
                when ap_{{ g }}.patient_key is not null
                    then {{ append_array(
                        'p.' ~ m.measure ~ '_dates', sort_date_array('new_' ~ g ~ '_dates.' ~ m.measure)
                    ) }}
                else p.{{ m.measure }}_dates
            end as {{ m.measure }}_dates,
            {%- endfor %}
            {%- for m in event_measures() if 'value' in m %}
            {%- set g = m.source %}
            case
                when rb_{{ g }}.patient_key is not null then all_{{ m.measure }}_totals.event_dates
                when ap_{{ g }}.patient_key is not null
                    then {{ append_array('p.' ~ m.measure ~ '_dates', 'new_' ~ m.measure ~ '_totals.event_dates') }}
                else p.{{ m.measure }}_dates
            end as {{ m.measure }}_dates,
            case
                when rb_{{ g }}.patient_key is not null then all_{{ m.measure }}_totals.running_values
                when ap_{{ g }}.patient_key is not null
                    then {{ append_array('p.' ~ m.measure ~ '_running', shift_array(
                        'new_' ~ m.measure ~ '_totals.running_values',
                        'coalesce(' ~ last_element('p.' ~ m.measure ~ '_running') ~ ', 0)'
                    )) }}
                else p.{{ m.measure }}_running
            end as {{ m.measure }}_running{{ ',' if not loop.last }}
            {%- endfor %}
        -- noqa: enable=LT02
        from touched as k
        left join {{ this }} as p on k.patient_key = p.patient_key
        {%- for g in groups %}
            left join rebuilt_{{ g }} as rb_{{ g }} on k.patient_key = rb_{{ g }}.patient_key
            left join appended_{{ g }} as ap_{{ g }} on k.patient_key = ap_{{ g }}.patient_key
            left join all_{{ g }}_dates on k.patient_key = all_{{ g }}_dates.patient_key
            left join new_{{ g }}_dates on k.patient_key = new_{{ g }}_dates.patient_key
        {%- endfor %}
        {%- for m in event_measures() if 'value' in m %}
            left join all_{{ m.measure }}_totals on k.patient_key = all_{{ m.measure }}_totals.patient_key
            left join new_{{ m.measure }}_totals on k.patient_key = new_{{ m.measure }}_totals.patient_key
        {%- endfor %}
        where
            -- rows certainly remain: new ones, or rows of a rebuilt source
            {%- for g in groups %}
                ap_{{ g }}.patient_key is not null
                or all_{{ g }}_dates.patient_key is not null
                or
            {%- endfor %}
            k.patient_key in (select o.patient_key from orphans_kept as o)
    )
{%- else %}

    {{ event_sources() }},

    {{ timeline_ctes() }}
{%- endif %}

select
    t.*,
    s.loaded_through,
    s.raw_drift
from timelines as t
cross join raw_state as s
