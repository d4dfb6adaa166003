-- Staging: type and rename only; one row per referral_id (the loader keeps the latest delivery).
with source as (
    select * from {{ source('case_management', 'sp_referrals') }}
)

select
    cast(referral_id as {{ dbt.type_string() }}) as referral_id,
    cast(patient_key as {{ dbt.type_string() }}) as patient_key,
    cast(referral_date as date) as referral_date,
    cast(referral_source as {{ dbt.type_string() }}) as referral_source,
    cast(referring_practice_code as {{ dbt.type_string() }}) as referring_practice_code,
    cast(pcn_code as {{ dbt.type_string() }}) as pcn_code,
    cast(link_worker_id as {{ dbt.type_string() }}) as link_worker_id,
    cast(referral_reasons as {{ dbt.type_string() }}) as referral_reasons,
    cast(outcome as {{ dbt.type_string() }}) as outcome,
    cast(first_contact_date as date) as first_contact_date,
    cast(discharge_date as date) as discharge_date,
    cast(contacts_count as {{ dbt.type_int() }}) as contacts_count,
    cast(activities as {{ dbt.type_string() }}) as activities,
    cast(file_name as {{ dbt.type_string() }}) as file_name,
    cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
    loaded_at
from source
