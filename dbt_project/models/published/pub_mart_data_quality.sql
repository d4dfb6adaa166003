{{ config(alias='mart_data_quality') }}
-- Published twin of marts.mart_data_quality. Its figures describe deliveries to the whole warehouse
-- (no geography below England), so methods §9 leaves them unrounded: the row is England level.
-- Every mart column in order (the enforced contract lists them all).
select
    'england' as geography_level,
    'ENG' as region_code,
    mart.*,  -- noqa: AM04
    false as is_suppressed
from {{ ref('mart_data_quality') }} as mart
