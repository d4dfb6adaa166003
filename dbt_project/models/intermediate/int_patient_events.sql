-- One row per patient event per measure of methods §2, dated, with its value (1, or bed days).
-- Generated from the measure definitions in macros/measures.sql (as is int_patient_timelines).
with {{ event_sources() }}

{%- for m in event_measures() %}
    {%- set cols = event_source_columns(m.source) %}

    select
        patient_key,
        {{ cols.date }} as event_date,
        '{{ m.measure }}' as measure,
        {{ cols.id }} as event_id,
        cast({{ m['value'] if 'value' in m else 1 }} as {{ dbt.type_bigint() }}) as event_value
    from {{ m.source }}
    where {{ m.condition }}
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
