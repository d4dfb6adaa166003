-- Staging: type and rename only; one row per spell_id (the loader keeps the latest delivery).
with source as (
    select * from {{ source('apc', 'inpatient_admissions') }}
)

select
    cast(spell_id as {{ dbt.type_string() }}) as spell_id,
    cast(patient_key as {{ dbt.type_string() }}) as patient_key,
    cast(provider_code as {{ dbt.type_string() }}) as provider_code,
    cast(admission_date as date) as admission_date,
    cast(discharge_date as date) as discharge_date,
    cast(admission_method as {{ dbt.type_string() }}) as admission_method,
    cast(file_name as {{ dbt.type_string() }}) as file_name,
    cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
    loaded_at
from source
