-- Inpatient admissions as the event models read them (methods §2): rows with a patient, with the
-- data cut-off, where an open spell's bed days end. A view, like int_event_appointments, and without
-- a CTE for the reason given in int_event_attendances.
{{ config(materialized='view') }}

select
    a.*,
    c.cutoff_date
from {{ ref('stg_apc__admissions') }} as a
cross join {{ ref('int_data_cutoff') }} as c
where a.patient_key is not null
