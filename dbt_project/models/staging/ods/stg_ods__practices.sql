-- Staging: type and rename only; one row per practice_code + effective_from (the loader keeps the latest delivery).
with source as (
    select * from {{ source('ods', 'practices') }}
)

select
    cast(practice_code as {{ dbt.type_string() }}) as practice_code,
    cast(practice_name as {{ dbt.type_string() }}) as practice_name,
    cast(pcn_code as {{ dbt.type_string() }}) as pcn_code,
    cast(pcn_name as {{ dbt.type_string() }}) as pcn_name,
    cast(sub_icb_code as {{ dbt.type_string() }}) as sub_icb_code,
    cast(sub_icb_name as {{ dbt.type_string() }}) as sub_icb_name,
    cast(icb_code as {{ dbt.type_string() }}) as icb_code,
    cast(icb_name as {{ dbt.type_string() }}) as icb_name,
    cast(region_code as {{ dbt.type_string() }}) as region_code,
    cast(region_name as {{ dbt.type_string() }}) as region_name,
    cast(list_size as {{ dbt.type_int() }}) as list_size,
    cast(effective_from as date) as effective_from,
    cast(effective_to as date) as effective_to,
    cast(file_name as {{ dbt.type_string() }}) as file_name,
    cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
    loaded_at
from source
