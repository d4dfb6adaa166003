{#- Methods §2 measures as data: which event source each counts (contract_vocabulary.sql's
    event_sources, by name), and which records count. int_patient_events (one row per event) and
    int_patient_timelines (one row per patient) are both generated from this list, so a definition
    lives in one place. Conditions read the event source's staging columns, plus
    is_admitted_destination (attendances) and cutoff_date (admissions), which both models add.
    `value` is 1 unless the measure sums something else. -#}
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

{#- The event source (contract_vocabulary.sql) whose rows go by `name` in the event models. -#}
{% macro event_source(name) -%}
    {{ return(event_sources() | selectattr('name', 'equalto', name) | first) }}
{%- endmacro %}

{#- Names of the methods §2 measures, in the order the marts list them. -#}
{% macro demand_measures() -%}
    {{ return(event_measures() | map(attribute='measure') | list) }}
{%- endmacro %}

{#- Names of the measures that sum a value rather than count events. -#}
{% macro valued_measures() -%}
    {{ return(event_measures() | selectattr('value', 'defined') | map(attribute='measure') | list) }}
{%- endmacro %}
