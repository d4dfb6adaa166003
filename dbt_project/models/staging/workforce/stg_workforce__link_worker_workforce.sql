-- Staging: type and rename only; one row per pcn_code + month + funding (the loader keeps the latest delivery).
with source as (
    select * from {{ source('workforce', 'link_worker_workforce') }}
)

select
    cast(pcn_code as {{ dbt.type_string() }}) as pcn_code,
    cast(month as date) as month,
    cast(wte as {{ dbt.type_numeric() }}) as wte,
    cast(headcount as {{ dbt.type_int() }}) as headcount,
    cast(funding as {{ dbt.type_string() }}) as funding,
    cast(file_name as {{ dbt.type_string() }}) as file_name,
    cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
    loaded_at
from source
