-- Staging: type and rename only; one row per appointment_id (the loader keeps the latest delivery).
with source as (
    select * from {{ source('gp', 'gp_appointments') }}
)

select
    cast(appointment_id as {{ dbt.type_string() }}) as appointment_id,
    cast(patient_key as {{ dbt.type_string() }}) as patient_key,
    cast(practice_code as {{ dbt.type_string() }}) as practice_code,
    cast(appointment_date as date) as appointment_date,
    cast(appt_status as {{ dbt.type_string() }}) as appt_status,
    cast(hcp_type as {{ dbt.type_string() }}) as hcp_type,
    cast(appt_mode as {{ dbt.type_string() }}) as appt_mode,
    cast(national_category as {{ dbt.type_string() }}) as national_category,
    cast(time_between_book_and_appt as {{ dbt.type_string() }}) as time_between_book_and_appt,
    cast(file_name as {{ dbt.type_string() }}) as file_name,
    cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
    loaded_at
from source
