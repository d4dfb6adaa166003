-- How much of England the data cover (methods §6): registered population as at the latest month, per
-- England and region, against var england_registered_population. For one ICB's data the England row
-- reads "the data cover 2.7% of England"; for the demo's scaled-down England (every region, list sizes
-- = synthetic patients registered) it gives the scale: each registered patient stands for
-- people_per_registered_patient people.
{%- set levels = reporting_levels() | selectattr('level', 'in', ['england', 'region']) | list %}
with pcn_month as (
    select * from {{ ref('mart_rollout_pcn_month') }}
),

latest as (
    select max(month) as as_at_month
    from pcn_month
),

long_form as (
    {%- for l in levels %}
        select
            {{ geography_level_columns(l) }},
            p.month,
            p.registered_population
        from pcn_month as p
        inner join latest as l on p.month = l.as_at_month
        {%- if l.level != 'england' %}
            where {{ l.code }} is not null
        {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select
    cast(geography_level as {{ dbt.type_string() }}) as geography_level,
    geography_code,
    max(geography_name) as geography_name,
    coalesce(max(region_code), 'UNK') as region_code,
    max(month) as as_at_month,
    cast(sum(registered_population) as bigint) as registered_population,
    cast({{ var('england_registered_population') }} as bigint) as england_registered_population,
    cast(
        100.0 * sum(registered_population) / {{ var('england_registered_population') }} as {{ type_double() }}
    ) as pct_of_england,
    cast(
        case
            when geography_level = 'england'
                then 1.0 * {{ var('england_registered_population') }} / nullif(sum(registered_population), 0)
        end as {{ type_double() }}
    ) as people_per_registered_patient
from long_form
group by geography_level, geography_code
