-- One row per patient event per measure of methods §2, dated, with its value (1, or bed days).
-- Generated from the measure definitions in macros/measures.sql (as is int_patient_timelines).
with cutoff as (
    select cutoff_date from {{ ref('int_data_cutoff') }}
),

admitted_destinations as (
    select discharge_destination_snomed from {{ ref('ref_admitted_discharge_destinations') }}
),

appointments as (
    select * from {{ ref('stg_gp__appointments') }}
    where patient_key is not null
),

attendances as (
    select
        a.*,
        d.discharge_destination_snomed is not null as is_admitted_destination
    from {{ ref('stg_ecds__attendances') }} as a
    left join admitted_destinations as d
        on a.discharge_destination_snomed = d.discharge_destination_snomed
    where a.patient_key is not null
),

admissions as (
    -- open spells run to the data cut-off (emergency_bed_days)
    select
        a.*,
        c.cutoff_date
    from {{ ref('stg_apc__admissions') }} as a
    cross join cutoff as c
    where a.patient_key is not null
)

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
