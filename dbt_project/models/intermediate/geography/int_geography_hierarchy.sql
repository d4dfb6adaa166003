-- One row per geography level and code with the codes of the ICB, sub-ICB location and PCN that the
-- area lies in, its own code included: an ICB row carries icb_code only, a sub-ICB row its ICB and
-- itself, a PCN row all three; England and region rows carry none (NULL above the area's own level).
-- Published tables join it so that one filter on icb_code keeps an ICB's own row and the rows of its
-- sub-ICB locations and PCNs. A code's parents come from its most recent practices row (latest
-- valid_from), as its name does in int_geography_names.
with geography as (
    select * from {{ ref('int_practice_geography') }}
),

pcns as (
    select
        pcn_code,
        sub_icb_code,
        icb_code,
        row_number() over (
            partition by pcn_code order by valid_from desc, sub_icb_code desc, icb_code desc
        ) as seq
    from geography
),

sub_icbs as (
    select
        sub_icb_code,
        icb_code,
        row_number() over (partition by sub_icb_code order by valid_from desc, icb_code desc) as seq
    from geography
)

select
    cast('icb' as {{ dbt.type_string() }}) as geography_level,
    cast(icb_code as {{ dbt.type_string() }}) as geography_code,
    cast(icb_code as {{ dbt.type_string() }}) as icb_code,
    cast(null as {{ dbt.type_string() }}) as sub_icb_code,
    cast(null as {{ dbt.type_string() }}) as pcn_code
from geography
group by icb_code
union all
select
    'sub_icb' as geography_level,
    sub_icb_code as geography_code,
    icb_code,
    sub_icb_code,
    null as pcn_code
from sub_icbs
where seq = 1
union all
select
    'pcn' as geography_level,
    pcn_code as geography_code,
    icb_code,
    sub_icb_code,
    pcn_code
from pcns
where seq = 1
