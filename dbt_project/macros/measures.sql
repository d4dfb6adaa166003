{#- Methods §2 measures as data: which source each counts, on which date, and which records count.
    int_patient_events (one row per event) and int_patient_timelines (one row per patient and
    measure) are both generated from this list, so a definition lives in one place.
    Sources (CTE names both models define): appointments (stg_gp__appointments), attendances
    (stg_ecds__attendances with is_admitted_destination), admissions (stg_apc__admissions with the
    cut-off as cutoff_date). `value` is 1 unless the measure sums something else. -#}
{% macro event_measures() -%}
    {%- set gp = "appt_status = 'Attended' and hcp_type = 'GP'" -%}
    {%- set emergency = "admission_method like '2%'" -%}
    {{ return([
        {'measure': 'gp_appointments', 'source': 'appointments', 'condition': gp},
        {'measure': 'gp_face_to_face', 'source': 'appointments', 'condition': gp ~ " and appt_mode = 'Face-to-Face'"},
        {'measure': 'gp_telephone', 'source': 'appointments', 'condition': gp ~ " and appt_mode = 'Telephone'"},
        {'measure': 'gp_home_visit', 'source': 'appointments', 'condition': gp ~ " and appt_mode = 'Home Visit'"},
        {'measure': 'gp_video_online', 'source': 'appointments',
            'condition': gp ~ " and appt_mode = 'Video Conference/Online'"},
        {'measure': 'practice_appointments', 'source': 'appointments',
            'condition': "appt_status = 'Attended' and (national_category is null"
                ~ " or national_category != 'Social Prescribing Service')"},
        {'measure': 'dna_appointments', 'source': 'appointments', 'condition': "appt_status = 'DNA'"},
        {'measure': 'ae_attendances', 'source': 'attendances', 'condition': 'true'},
        {'measure': 'ae_type1_attendances', 'source': 'attendances', 'condition': "ec_department_type = '01'"},
        {'measure': 'ae_admitted', 'source': 'attendances', 'condition': 'is_admitted_destination'},
        {'measure': 'emergency_admissions', 'source': 'admissions', 'condition': emergency},
        {'measure': 'emergency_bed_days', 'source': 'admissions', 'condition': emergency,
            'value': days_between('admission_date', 'coalesce(discharge_date, cutoff_date)')},
    ]) }}
{%- endmacro %}

{#- Date and record id of each source's events. -#}
{% macro event_source_columns(source) -%}
    {{ return({
        'appointments': {'date': 'appointment_date', 'id': 'appointment_id'},
        'attendances': {'date': 'arrival_date', 'id': 'ec_ident'},
        'admissions': {'date': 'admission_date', 'id': 'spell_id'},
    }[source]) }}
{%- endmacro %}

{#- The three source CTEs both event models read (each source scanned once), named <prefix>appointments,
    <prefix>attendances and <prefix>admissions. With `only_patients`, the name of a CTE of patient_key
    defined before them (or a mapping from source to such a name), each keeps those patients' rows
    only; with `loaded_after`, a timestamp expression, only rows loaded after it. -#}
{% macro event_sources(only_patients=none, prefix='', loaded_after=none) -%}
{%- set filters = {} -%}
{%- for source in ['appointments', 'attendances', 'admissions'] -%}
    {%- set cte = only_patients[source] if only_patients is mapping else only_patients -%}
    {%- set only = ("\n    and a.patient_key in (select patient_key from " ~ cte ~ ")") if cte else "" -%}
    {%- do filters.update({source: only ~ (("\n    and a.loaded_at > " ~ loaded_after) if loaded_after else "")}) -%}
{%- endfor -%}
{{ prefix }}cutoff as (
    select cutoff_date from {{ ref('int_data_cutoff') }}
),

{{ prefix }}admitted_destinations as (
    select discharge_destination_snomed from {{ ref('ref_admitted_discharge_destinations') }}
),

{{ prefix }}appointments as (
    select * from {{ ref('stg_gp__appointments') }} as a
    where a.patient_key is not null{{ filters.appointments }}
),

{{ prefix }}attendances as (
    select
        a.*,
        d.discharge_destination_snomed is not null as is_admitted_destination
    from {{ ref('stg_ecds__attendances') }} as a
    left join {{ prefix }}admitted_destinations as d
        on a.discharge_destination_snomed = d.discharge_destination_snomed
    where a.patient_key is not null{{ filters.attendances }}
),

{{ prefix }}admissions as (
    -- open spells run to the data cut-off (emergency_bed_days)
    select
        a.*,
        c.cutoff_date
    from {{ ref('stg_apc__admissions') }} as a
    cross join {{ prefix }}cutoff as c
    where a.patient_key is not null{{ filters.admissions }}
)
{%- endmacro %}

{#- Names of the measures that sum a value rather than count events. -#}
{% macro valued_measures() -%}
    {%- set names = [] -%}
    {%- for m in event_measures() if 'value' in m -%}{%- do names.append(m.measure) -%}{%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- One row per input row and measure: `key_columns`, measure, pre_count and post_count taken from
    the columns pre_<m> and post_<m> of `relation`. -#}
{% macro unpivot_measures(relation, key_columns, measures) -%}
    {%- for m in measures %}
select
    {{ key_columns | join(', ') }},
    '{{ m }}' as measure,
    pre_{{ m }} as pre_count,
    post_{{ m }} as post_count
from {{ relation }}
        {%- if not loop.last %}
union all
        {%- endif %}
    {%- endfor %}
{%- endmacro %}
