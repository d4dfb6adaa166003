-- One row per patient with an event of any measure of methods §2: for each measure m, <m>_dates, the
-- dates of the patient's events ascending (NULL when none), and for measures with a value
-- (emergency_bed_days) <m>_running, the running total of the values in the same order.
-- Window counts are then binary searches on these arrays (macros/timelines.sql), so their cost follows
-- the patients asked about, not every event of every patient, and each consumer joins a patient once.
-- Each source is read once: one pass groups a patient's events of every measure counted on it
-- (definitions in macros/measures.sql, shared with int_patient_events).
-- Incremental (macros/incremental.sql). A build after the first touches only patients with event
-- rows loaded or replaced since. When all of a patient's new rows are dated after everything their
-- row holds (a new month: nearly everyone), the new dates are appended to it (and the new bed days'
-- running totals carried on from its last total); anyone else (a record replaced, a late record, an
-- open emergency spell, whose bed days run to the cut-off) is rebuilt whole from all of their rows.
-- Either way the row is what a full rebuild gives.
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
{%- set columns = timeline_date_columns() %}
{%- set valued = valued_measures() %}

with raw_state as (
    {{ input_state(event_inputs()) }}
),

{%- if is_incremental() %}

    new_activity as (
        {{ new_activity(this, event_inputs()) }}
    ),

    first_new as (
        select
            patient_key,
            min(event_date) as first_new_date
        from new_activity
        group by patient_key
    ),

    previous as (
        select
            t.*,
            {{ timeline_last_date('t') }} as last_date
        from {{ this }} as t
        inner join first_new as f on t.patient_key = f.patient_key
    ),

    replaced_patients as (
        select patient_key from {{ source('audit', 'replaced_records') }}
        where source in ({{ source_list(event_inputs()) }}) and replaced_at > {{ loaded_since(this, event_inputs()) }}
    ),

    open_spell_patients as (
        select patient_key from {{ ref('stg_apc__admissions') }}
        where discharge_date is null
    ),

    appended_patients as (
        select f.patient_key
        from first_new as f
        left join previous as p on f.patient_key = p.patient_key
        where
            (p.last_date is null or f.first_new_date > p.last_date)
            and f.patient_key not in (
                select r.patient_key from replaced_patients as r
                where r.patient_key is not null
            )
            and f.patient_key not in (
                select o.patient_key from open_spell_patients as o
                where o.patient_key is not null
            )
    ),

    rebuilt_patients as (
        select patient_key from first_new
        except
        select patient_key from appended_patients
        union
        select patient_key from replaced_patients
        union
        select patient_key from open_spell_patients
    ),

    {{ event_sources('rebuilt_patients', prefix='all_') }},

    {{ timeline_ctes('all_') }},

    {{ event_sources('appended_patients', prefix='new_', loaded_after=loaded_since(this, event_inputs())) }},

    {{ timeline_ctes('new_') }},

    appended as (
        select
            n.patient_key,
            {%- for c in columns %}
                {{ append_array('p.' ~ c, 'n.' ~ c) }} as {{ c }},
            {%- endfor %}
        {%- for m in valued %}
        {{ append_array('p.' ~ m ~ '_running', shift_array('n.' ~ m ~ '_running',
            'coalesce(' ~ last_element('p.' ~ m ~ '_running') ~ ', 0)')) }} as {{ m }}_running
        {{- ',' if not loop.last }}
        {%- endfor %}
        from new_timelines as n
        left join previous as p on n.patient_key = p.patient_key
    ),

    timelines as (
        select * from all_timelines
        union all
        select * from appended
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
