-- The registered side of the equity mart (methods §8) aggregated to PCN x dimension values per
-- cohort year ('all' included): the one pass over every person-year (millions of rows), hashed
-- (prefer_hash_aggregation) rather than sorted by its text keys.
{{ config(pre_hook="{{ prefer_hash_aggregation() }}") }}

with people as (
    select * from {{ ref('int_equity_people') }}
    where role = 'registered'
)

select
    p.cohort_fy,
    p.pcn_code,
    max(p.pcn_name) as pcn_name,
    p.sub_icb_code,
    max(p.sub_icb_name) as sub_icb_name,
    p.icb_code,
    max(p.icb_name) as icb_name,
    p.region_code,
    max(p.region_name) as region_name,
    p.imd_quintile,
    p.age_band,
    p.sex,
    p.ethnic_group,
    count(*) as registered_population
from people as p
group by
    p.cohort_fy, p.pcn_code, p.sub_icb_code, p.icb_code, p.region_code, p.imd_quintile, p.age_band, p.sex,
    p.ethnic_group
