-- One row per patient with an event of any measure of methods §2: for each measure m, <m>_dates, the
-- dates of the patient's events ascending (NULL when none), and for a measure with a value
-- (emergency_bed_days) <m>_running, the running total of the values in the same order.
-- Window counts are binary searches on these arrays (macros/timelines.sql), so each consumer joins a
-- patient once instead of every event. Each source is read once: one pass groups a patient's events
-- of every measure counted on it (definitions in macros/measures.sql, as int_patient_events).
{{ config(pre_hook="{{ avoid_nested_loops() }}") }}
{%- set counted = event_measures() | rejectattr('value', 'defined') | list %}
{%- set valued = event_measures() | selectattr('value', 'defined') | list %}

with
{%- for s in event_sources() %}

    {{ s.name }} as (
        select * from {{ ref('int_event_' ~ s.name) }}
    ){{ ',' if not loop.last }}
{%- endfor %},
-- noqa: disable=LT02
-- (sqlfluff cannot place the Jinja loops of these select lists)
{%- for s in event_sources() %}

    {{ s.name }}_dates as (
        -- the dates of each measure counted on the source, unsorted (sorted per patient below)
        select
            patient_key,
            {%- for m in counted if m.source == s.name %}
                {{ date_array_where(s.date, m.condition) }} as {{ m.measure }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ s.name }}
        group by patient_key
    ),
{%- endfor %}
{%- for m in valued %}
    {%- set s = event_source(m.source) %}

    {{ m.measure }}_events as (
        select
            patient_key,
            {{ s.date }} as event_date,
            {{ s.id }} as event_id,
            sum({{ m['value'] }}) over (
                partition by patient_key order by {{ s.date }}, {{ s.id }} rows unbounded preceding
            ) as running_value
        from {{ m.source }}
        where {{ m.condition }}
    ),

    {{ m.measure }}_totals as (
        select
            patient_key,
            {{ ordered_array('event_date', 'event_date', 'event_id') }} as event_dates,
            {{ ordered_array('cast(running_value as ' ~ dbt.type_bigint() ~ ')', 'event_date', 'event_id') }}
                as running_values
        from {{ m.measure }}_events
        group by patient_key
    ),
{%- endfor %}

patients as (
    {%- for s in event_sources() %}
        select patient_key from {{ s.name }}_dates
        {%- if not loop.last %}
            union
        {%- endif %}
    {%- endfor %}
)

select
    p.patient_key,
    {%- for m in counted %}
    {{ sort_date_array(m.source ~ '_dates.' ~ m.measure) }} as {{ m.measure }}_dates,
    {%- endfor %}
    {%- for m in valued %}
    {{ m.measure }}_totals.event_dates as {{ m.measure }}_dates,
    {{ m.measure }}_totals.running_values as {{ m.measure }}_running{{ ',' if not loop.last }}
    {%- endfor %}
from patients as p
{%- for s in event_sources() %}
    left join {{ s.name }}_dates on p.patient_key = {{ s.name }}_dates.patient_key
{%- endfor %}
{%- for m in valued %}
    left join {{ m.measure }}_totals on p.patient_key = {{ m.measure }}_totals.patient_key
{%- endfor %}
