-- A&E attendances as the event models read them (methods §2): rows with a patient, flagged when the
-- discharge destination is an admission (ae_admitted). A view, like int_event_appointments.
{{ config(materialized='view') }}

with admitted_destinations as (
    select discharge_destination_snomed from {{ ref('ref_admitted_discharge_destinations') }}
)

select
    a.*,
    d.discharge_destination_snomed is not null as is_admitted_destination
from {{ ref('stg_ecds__attendances') }} as a
left join admitted_destinations as d
    on a.discharge_destination_snomed = d.discharge_destination_snomed
where a.patient_key is not null
