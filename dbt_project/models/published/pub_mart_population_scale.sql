{{ config(alias='mart_population_scale') }}
-- Published twin of marts.mart_population_scale (methods §9): the registered population rounded to 5,
-- the share of England and the scale recomputed from the rounded figure.
with mart as (
    select * from {{ ref('mart_population_scale') }}
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    as_at_month,
    {{ round_count('registered_population') }} as registered_population,
    england_registered_population,
    {{ mean_from_rounded('registered_population', 'england_registered_population', 100,
                         denominator_is_count=false) }} as pct_of_england,
    case
        when geography_level = 'england'
            then {{ mean_from_rounded('england_registered_population', 'registered_population',
                                      numerator_is_count=false) }}
    end as people_per_registered_patient,
    {{ suppress_flag('registered_population') }} as is_suppressed
from mart
