-- Staging: type and rename only; one row per assessment_id (the loader keeps the latest delivery).
with source as (
    select * from {{ source('case_management', 'sp_wellbeing') }}
)

select
    cast(assessment_id as {{ dbt.type_string() }}) as assessment_id,
    cast(referral_id as {{ dbt.type_string() }}) as referral_id,
    cast(assessment_date as date) as assessment_date,
    cast(assessment_type as {{ dbt.type_string() }}) as assessment_type,
    cast(instrument as {{ dbt.type_string() }}) as instrument,
    cast(item as {{ dbt.type_string() }}) as item,
    cast(score as {{ dbt.type_numeric() }}) as score,
    cast(file_name as {{ dbt.type_string() }}) as file_name,
    cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
    loaded_at
from source
