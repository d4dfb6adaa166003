-- One row per patient event per measure of methods §2, dated, with its value (1, or bed days).
-- Generated from the measure definitions in macros/measures.sql (as is int_patient_timelines).
with
{%- for s in event_sources() %}

    {{ s.name }} as (
        select * from {{ ref('int_event_' ~ s.name) }}
    ){{ ',' if not loop.last }}
{%- endfor %}

{%- for m in event_measures() %}
    {%- set s = event_source(m.source) %}

    select
        patient_key,
        {{ s.date }} as event_date,
        '{{ m.measure }}' as measure,
        {{ s.id }} as event_id,
        cast({{ m['value'] if 'value' in m else 1 }} as {{ dbt.type_bigint() }}) as event_value
    from {{ m.source }}
    where {{ m.condition }}
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
