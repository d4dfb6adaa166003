-- One row per geography level and code with its name and region, for labelling aggregated rows.
-- A code's name and region come from its most recent practices row (latest valid_from).
with geography as (
    select * from {{ ref('int_practice_geography') }}
),

levels as (
    select
        'region' as geography_level,
        region_code as geography_code,
        region_name as geography_name,
        region_code,
        valid_from
    from geography
    union all
    select
        'icb' as geography_level,
        icb_code as geography_code,
        icb_name as geography_name,
        region_code,
        valid_from
    from geography
    union all
    select
        'sub_icb' as geography_level,
        sub_icb_code as geography_code,
        sub_icb_name as geography_name,
        region_code,
        valid_from
    from geography
    union all
    select
        'pcn' as geography_level,
        pcn_code as geography_code,
        pcn_name as geography_name,
        region_code,
        valid_from
    from geography
),

ranked as (
    select
        *,
        row_number() over (
            partition by geography_level, geography_code
            order by valid_from desc, geography_name desc, region_code desc
        ) as name_seq
    from levels
)

select
    cast('england' as {{ dbt.type_string() }}) as geography_level,
    cast('ENG' as {{ dbt.type_string() }}) as geography_code,
    cast('England' as {{ dbt.type_string() }}) as geography_name,
    cast('ENG' as {{ dbt.type_string() }}) as region_code
union all
select
    geography_level,
    geography_code,
    geography_name,
    region_code
from ranked
where name_seq = 1
