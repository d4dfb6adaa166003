-- Staging: type and rename only; one row per patient_key (the loader keeps the latest delivery).
with source as (
    select * from {{ source('gp', 'patients') }}
)

select
    cast(patient_key as {{ dbt.type_string() }}) as patient_key,
    cast(practice_code as {{ dbt.type_string() }}) as practice_code,
    cast(year_of_birth as {{ dbt.type_int() }}) as year_of_birth,
    cast(sex as {{ dbt.type_string() }}) as sex,
    cast(ethnic_category as {{ dbt.type_string() }}) as ethnic_category,
    cast(lsoa_code as {{ dbt.type_string() }}) as lsoa_code,
    cast(imd_decile as {{ dbt.type_int() }}) as imd_decile,
    cast(ltc_count as {{ dbt.type_int() }}) as ltc_count,
    cast(registration_start_date as date) as registration_start_date,
    cast(registration_end_date as date) as registration_end_date,
    cast(date_of_death as date) as date_of_death,
    cast(file_name as {{ dbt.type_string() }}) as file_name,
    cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
    loaded_at
from source
