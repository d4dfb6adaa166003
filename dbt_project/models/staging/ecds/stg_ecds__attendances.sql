-- Staging: type and rename only; one row per ec_ident (the loader keeps the latest delivery).
with source as (
    select * from {{ source('ecds', 'ae_attendances') }}
)

select
    cast(ec_ident as {{ dbt.type_string() }}) as ec_ident,
    cast(patient_key as {{ dbt.type_string() }}) as patient_key,
    cast(provider_code as {{ dbt.type_string() }}) as provider_code,
    cast(arrival_date as date) as arrival_date,
    cast(ec_department_type as {{ dbt.type_string() }}) as ec_department_type,
    cast(discharge_destination_snomed as {{ dbt.type_string() }}) as discharge_destination_snomed,
    cast(file_name as {{ dbt.type_string() }}) as file_name,
    cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
    loaded_at
from source
