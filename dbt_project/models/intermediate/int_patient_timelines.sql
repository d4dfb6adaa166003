-- One row per patient with an event of any measure of methods §2: for each measure m, <m>_dates, the
-- dates of the patient's events ascending (NULL when none), and for measures with a value
-- (emergency_bed_days) <m>_running, the running total of the values in the same order.
-- Window counts are then binary searches on these arrays (macros/timelines.sql), so their cost follows
-- the patients asked about, not every event of every patient, and each consumer joins a patient once.
-- Each source is read once: one pass groups a patient's events of every measure counted on it
-- (definitions in macros/measures.sql, shared with int_patient_events).
-- Incremental (macros/incremental.sql): a build after the first recomputes only patients with an
-- event row loaded or replaced since, and patients with an open emergency spell (its bed days run to
-- the cut-off); each recomputed patient's row is rebuilt whole from all of their rows.
-- depends_on: {{ source('audit', 'replaced_records') }}, {{ ref('int_raw_state') }}
{{ config(
    materialized='incremental',
    unique_key='patient_key',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['loaded_through']}],
    pre_hook="{{ forget_if_raw_drifted(this, event_inputs()) }}",
    post_hook="{{ forget_replaced(this, event_inputs(), 'r.patient_key = t.patient_key') }}",
) }}
{%- set counted = [] %}
{%- set valued = [] %}
{%- for m in event_measures() %}
    {%- do (valued if 'value' in m else counted).append(m) %}
{%- endfor %}
{%- set sources = ['appointments', 'attendances', 'admissions'] %}

with
{%- if is_incremental() %}
changed_patients as (
    {{ changed_patients(this, event_inputs()) }}
    union
    select patient_key from {{ ref('stg_apc__admissions') }}
    where discharge_date is null
),

{{ event_sources('changed_patients') }},
{%- else %}
{{ event_sources() }},
{%- endif %}

raw_state as (
    {{ input_state(event_inputs()) }}
),

{%- for source in sources %}
    {%- set cols = event_source_columns(source) %}

    {{ source }}_dates as (
        select
            patient_key,
        {%- for m in counted if m.source == source %}
            {{ date_array_where(cols.date, m.condition) }} as {{ m.measure }}{{ ',' if not loop.last }}
        {%- endfor %}
        from {{ source }}
        group by patient_key
    ),
{%- endfor %}

{%- for m in valued %}
    {%- set cols = event_source_columns(m.source) %}

    {{ m.measure }}_events as (
        select
            patient_key,
            {{ cols.date }} as event_date,
            {{ cols.id }} as event_id,
            sum({{ m['value'] }}) over (
                partition by patient_key order by {{ cols.date }}, {{ cols.id }} rows unbounded preceding
            ) as running_value
        from {{ m.source }}
        where {{ m.condition }}
    ),

    {{ m.measure }}_totals as (
        select
            patient_key,
            {{ running_total_array('event_date', 'event_date', 'event_id') }} as event_dates,
            {{ running_total_array('cast(running_value as ' ~ dbt.type_bigint() ~ ')', 'event_date', 'event_id') }}
                as running_values
        from {{ m.measure }}_events
        group by patient_key
    ),
{%- endfor %}

patients as (
    {%- for source in sources %}
        select patient_key from {{ source }}_dates
        {%- if not loop.last %}
            union
        {%- endif %}
    {%- endfor %}
)

-- the templater cannot lay out a select list whose items come from two loops
-- noqa: disable=LT02
select
    p.patient_key,
    {%- for m in counted %}
    {{ sort_date_array(m.source ~ '_dates.' ~ m.measure) }} as {{ m.measure }}_dates,
    {%- endfor %}
    {%- for m in valued %}
    {{ m.measure }}_totals.event_dates as {{ m.measure }}_dates,
    {{ m.measure }}_totals.running_values as {{ m.measure }}_running,
    {%- endfor %}
    s.loaded_through,
    s.raw_drift
from patients as p
cross join raw_state as s
{%- for source in sources %}
left join {{ source }}_dates on p.patient_key = {{ source }}_dates.patient_key
{%- endfor %}
{%- for m in valued %}
left join {{ m.measure }}_totals on p.patient_key = {{ m.measure }}_totals.patient_key
{%- endfor %}
