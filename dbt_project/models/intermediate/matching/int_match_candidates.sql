-- Every candidate control found by either matching stage: it passes every rule of methods §4.
-- A view: int_matched_controls reads it once.
{{ config(materialized='view') }}

select * from {{ ref('int_match_pool') }}
union all
select * from {{ ref('int_match_extended') }}
