-- One row per patient event per measure of methods §2, dated, with its value (1, or bed days).
with appointments as (
    select * from {{ ref('stg_gp__appointments') }}
),

attendances as (
    select * from {{ ref('stg_ecds__attendances') }}
),

admissions as (
    select * from {{ ref('stg_apc__admissions') }}
),

admitted_destinations as (
    select discharge_destination_snomed from {{ ref('ref_admitted_discharge_destinations') }}
),

cutoff as (
    select cutoff_date from {{ ref('int_data_cutoff') }}
),

gp_modes as (
    {{ values_table(['appt_mode', 'measure'], [
        ["'Face-to-Face'", "'gp_face_to_face'"],
        ["'Telephone'", "'gp_telephone'"],
        ["'Home Visit'", "'gp_home_visit'"],
        ["'Video Conference/Online'", "'gp_video_online'"]
    ]) }}
),

gp as (
    select
        patient_key,
        appointment_date as event_date,
        'gp_appointments' as measure,
        appointment_id as event_id,
        1 as event_value
    from appointments
    where appt_status = 'Attended' and hcp_type = 'GP'
),

gp_by_mode as (
    select
        a.patient_key,
        a.appointment_date as event_date,
        m.measure,
        a.appointment_id as event_id,
        1 as event_value
    from appointments as a
    inner join gp_modes as m on a.appt_mode = m.appt_mode
    where a.appt_status = 'Attended' and a.hcp_type = 'GP'
),

practice as (
    select
        patient_key,
        appointment_date as event_date,
        'practice_appointments' as measure,
        appointment_id as event_id,
        1 as event_value
    from appointments
    where
        appt_status = 'Attended'
        and (national_category is null or national_category != 'Social Prescribing Service')
),

dna as (
    select
        patient_key,
        appointment_date as event_date,
        'dna_appointments' as measure,
        appointment_id as event_id,
        1 as event_value
    from appointments
    where appt_status = 'DNA'
),

ae as (
    select
        patient_key,
        arrival_date as event_date,
        'ae_attendances' as measure,
        ec_ident as event_id,
        1 as event_value
    from attendances
),

ae_type1 as (
    select
        patient_key,
        arrival_date as event_date,
        'ae_type1_attendances' as measure,
        ec_ident as event_id,
        1 as event_value
    from attendances
    where ec_department_type = '01'
),

ae_admitted as (
    select
        a.patient_key,
        a.arrival_date as event_date,
        'ae_admitted' as measure,
        a.ec_ident as event_id,
        1 as event_value
    from attendances as a
    inner join admitted_destinations as d on a.discharge_destination_snomed = d.discharge_destination_snomed
),

emergency as (
    select
        patient_key,
        admission_date as event_date,
        'emergency_admissions' as measure,
        spell_id as event_id,
        1 as event_value
    from admissions
    where admission_method like '2%'
),

bed_days as (
    -- Open spells run to the data cut-off.
    select
        a.patient_key,
        a.admission_date as event_date,
        'emergency_bed_days' as measure,
        a.spell_id as event_id,
        {{ days_between('a.admission_date', 'coalesce(a.discharge_date, c.cutoff_date)') }} as event_value
    from admissions as a
    cross join cutoff as c
    where a.admission_method like '2%'
),

unioned as (
    select * from gp
    union all
    select * from gp_by_mode
    union all
    select * from practice
    union all
    select * from dna
    union all
    select * from ae
    union all
    select * from ae_type1
    union all
    select * from ae_admitted
    union all
    select * from emergency
    union all
    select * from bed_days
)

select
    patient_key,
    event_date,
    measure,
    event_id,
    cast(event_value as {{ dbt.type_bigint() }}) as event_value
from unioned
where patient_key is not null
