-- One row per practice validity interval, with the whole ODS hierarchy. Open ends become sentinel
-- dates so that "valid on day d" is always valid_from <= d and d < valid_to (valid_to exclusive).
with practices as (
    select * from {{ ref('stg_ods__practices') }}
)

select
    practice_code,
    practice_name,
    pcn_code,
    pcn_name,
    sub_icb_code,
    sub_icb_name,
    icb_code,
    icb_name,
    region_code,
    region_name,
    list_size,
    effective_from,
    effective_to,
    coalesce(effective_from, {{ open_start_date() }}) as valid_from,
    coalesce(effective_to, {{ open_end_date() }}) as valid_to,
    effective_to is null as is_current
from practices
