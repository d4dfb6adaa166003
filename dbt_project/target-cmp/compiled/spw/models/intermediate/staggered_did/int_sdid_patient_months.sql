-- The sparse patient-month panel (methods §4b): one row per patient, measure and month with at least
-- one event, y the sum of the events' values (int_patient_events: 1, or bed days), for patients who
-- can be in the panel of a cohort with treated patients, up to the data cut-off. Months outside every
-- such cohort's window the patient can take part in are left out. Each source is read once: one pass
-- sums a patient-month's events of every measure counted on it (definitions in macros/measures.sql),
-- as int_patient_timelines does, instead of one pass per measure.

with

    appointments as (
        select * from "warehouse"."intermediate"."int_event_appointments"
    ),

    attendances as (
        select * from "warehouse"."intermediate"."int_event_attendances"
    ),

    admissions as (
        select * from "warehouse"."intermediate"."int_event_admissions"
    ),

cohort_range as (
    select
        min(g) as g_min,
        max(g) as g_max
    from "warehouse"."intermediate"."int_sdid_treated"
),

patients as (
    -- the months of the cohorts' windows the patient can be in
    select
        p.patient_key,
        greatest(p.g_lo, r.g_min) - 15 as first_month,
        least(p.g_hi, r.g_max) + 12 as last_month
    from "warehouse"."intermediate"."int_sdid_patients" as p
    cross join cohort_range as r
    where p.g_lo <= r.g_max and p.g_hi >= r.g_min
),
-- noqa: disable=LT02
-- (sqlfluff cannot place the Jinja loops of these select lists)

    appointments_months as (
        -- y_<m>: the sum of the month's values of measure m; n_<m>: its events, for a measure with a
        -- value (a month whose events are worth 0 bed days is still in the panel)
        select
            a.patient_key,
            (cast(extract(year from a.appointment_date) as integer) * 12 + cast(extract(month from a.appointment_date) as integer) - 1) as month_index,
                sum(case
                    when appt_status = 'Attended' and hcp_type = 'GP'
                        then cast(1 as integer)
                    else 0
                end) as y_gp_appointments,
                sum(case
                    when appt_status = 'Attended' and hcp_type = 'GP' and appt_mode = 'Face-to-Face'
                        then cast(1 as integer)
                    else 0
                end) as y_gp_face_to_face,
                sum(case
                    when appt_status = 'Attended' and hcp_type = 'GP' and appt_mode = 'Telephone'
                        then cast(1 as integer)
                    else 0
                end) as y_gp_telephone,
                sum(case
                    when appt_status = 'Attended' and hcp_type = 'GP' and appt_mode = 'Home Visit'
                        then cast(1 as integer)
                    else 0
                end) as y_gp_home_visit,
                sum(case
                    when appt_status = 'Attended' and hcp_type = 'GP' and appt_mode = 'Video Conference/Online'
                        then cast(1 as integer)
                    else 0
                end) as y_gp_video_online,
                sum(case
                    when appt_status = 'Attended' and (national_category is null or national_category != 'Social Prescribing Service')
                        then cast(1 as integer)
                    else 0
                end) as y_practice_appointments,
                sum(case
                    when appt_status = 'DNA'
                        then cast(1 as integer)
                    else 0
                end) as y_dna_appointments
        from appointments as a
        -- a subquery, not a CTE read three times: a materialised CTE would keep the grouping serial
        cross join (select cutoff_date as panel_cutoff_date from "warehouse"."intermediate"."int_data_cutoff") as c
        where a.appointment_date <= c.panel_cutoff_date
        group by a.patient_key, (cast(extract(year from a.appointment_date) as integer) * 12 + cast(extract(month from a.appointment_date) as integer) - 1)
    ),

    attendances_months as (
        -- y_<m>: the sum of the month's values of measure m; n_<m>: its events, for a measure with a
        -- value (a month whose events are worth 0 bed days is still in the panel)
        select
            a.patient_key,
            (cast(extract(year from a.arrival_date) as integer) * 12 + cast(extract(month from a.arrival_date) as integer) - 1) as month_index,
                sum(case
                    when true
                        then cast(1 as integer)
                    else 0
                end) as y_ae_attendances,
                sum(case
                    when ec_department_type = '01'
                        then cast(1 as integer)
                    else 0
                end) as y_ae_type1_attendances,
                sum(case
                    when is_admitted_destination
                        then cast(1 as integer)
                    else 0
                end) as y_ae_admitted
        from attendances as a
        -- a subquery, not a CTE read three times: a materialised CTE would keep the grouping serial
        cross join (select cutoff_date as panel_cutoff_date from "warehouse"."intermediate"."int_data_cutoff") as c
        where a.arrival_date <= c.panel_cutoff_date
        group by a.patient_key, (cast(extract(year from a.arrival_date) as integer) * 12 + cast(extract(month from a.arrival_date) as integer) - 1)
    ),

    admissions_months as (
        -- y_<m>: the sum of the month's values of measure m; n_<m>: its events, for a measure with a
        -- value (a month whose events are worth 0 bed days is still in the panel)
        select
            a.patient_key,
            (cast(extract(year from a.admission_date) as integer) * 12 + cast(extract(month from a.admission_date) as integer) - 1) as month_index,
                sum(case
                    when admission_method like '2%'
                        then cast(1 as integer)
                    else 0
                end) as y_emergency_admissions,
                sum(case when admission_method like '2%' then 1 else 0 end) as n_emergency_bed_days,
                sum(case
                    when admission_method like '2%'
                        then cast(
        ((coalesce(discharge_date, cutoff_date))::date - (admission_date)::date)
     as integer)
                    else 0
                end) as y_emergency_bed_days
        from admissions as a
        -- a subquery, not a CTE read three times: a materialised CTE would keep the grouping serial
        cross join (select cutoff_date as panel_cutoff_date from "warehouse"."intermediate"."int_data_cutoff") as c
        where a.admission_date <= c.panel_cutoff_date
        group by a.patient_key, (cast(extract(year from a.admission_date) as integer) * 12 + cast(extract(month from a.admission_date) as integer) - 1)
    ),

monthly as (
        select
            'gp_appointments' as measure,
            patient_key,
            month_index,
            y_gp_appointments as y
        from appointments_months
        where y_gp_appointments > 0
        union all
        select
            'gp_face_to_face' as measure,
            patient_key,
            month_index,
            y_gp_face_to_face as y
        from appointments_months
        where y_gp_face_to_face > 0
        union all
        select
            'gp_telephone' as measure,
            patient_key,
            month_index,
            y_gp_telephone as y
        from appointments_months
        where y_gp_telephone > 0
        union all
        select
            'gp_home_visit' as measure,
            patient_key,
            month_index,
            y_gp_home_visit as y
        from appointments_months
        where y_gp_home_visit > 0
        union all
        select
            'gp_video_online' as measure,
            patient_key,
            month_index,
            y_gp_video_online as y
        from appointments_months
        where y_gp_video_online > 0
        union all
        select
            'practice_appointments' as measure,
            patient_key,
            month_index,
            y_practice_appointments as y
        from appointments_months
        where y_practice_appointments > 0
        union all
        select
            'dna_appointments' as measure,
            patient_key,
            month_index,
            y_dna_appointments as y
        from appointments_months
        where y_dna_appointments > 0
        union all
        select
            'ae_attendances' as measure,
            patient_key,
            month_index,
            y_ae_attendances as y
        from attendances_months
        where y_ae_attendances > 0
        union all
        select
            'ae_type1_attendances' as measure,
            patient_key,
            month_index,
            y_ae_type1_attendances as y
        from attendances_months
        where y_ae_type1_attendances > 0
        union all
        select
            'ae_admitted' as measure,
            patient_key,
            month_index,
            y_ae_admitted as y
        from attendances_months
        where y_ae_admitted > 0
        union all
        select
            'emergency_admissions' as measure,
            patient_key,
            month_index,
            y_emergency_admissions as y
        from admissions_months
        where y_emergency_admissions > 0
        union all
        select
            'emergency_bed_days' as measure,
            patient_key,
            month_index,
            y_emergency_bed_days as y
        from admissions_months
        where n_emergency_bed_days > 0
)
-- noqa: enable=LT02

select
    m.measure,
    m.patient_key,
    m.month_index,
    m.y
from monthly as m
inner join patients as p on m.patient_key = p.patient_key
where m.month_index between p.first_month and p.last_month