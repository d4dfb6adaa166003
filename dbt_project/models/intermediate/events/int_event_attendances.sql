-- A&E attendances as the event models read them (methods §2): rows with a patient, flagged when the
-- discharge destination is an admission (ae_admitted). A view, like int_event_appointments, and
-- written without a CTE: Postgres plans a view holding a WITH clause apart from the query that reads
-- it, which cost int_patient_timelines its parallel grouping of the attendances.
{{ config(materialized='view') }}

select
    a.*,
    d.discharge_destination_snomed is not null as is_admitted_destination
from {{ ref('stg_ecds__attendances') }} as a
left join {{ ref('ref_admitted_discharge_destinations') }} as d
    on a.discharge_destination_snomed = d.discharge_destination_snomed
where a.patient_key is not null
