{{ config(alias='mart_cost_consequences') }}
-- Published twin of marts.mart_cost_consequences (methods §5, §9): counts of people rounded or
-- suppressed; the causal (staggered DiD) cost per person and its interval are model estimates, to 2
-- decimal places and only for 8 or more people; the before/after cost per person is a mean, so it is
-- recomputed from the rounded totals and the rounded number of people, its interval placed around that
-- point; the return per £1 comes from the published cost per person, the rounded counts of people and
-- the programme cost (a workforce cost, not people).
with mart as (
    select * from {{ ref('mart_cost_consequences') }}
),

points as (
    select
        *,
        case
            when design = 'staggered_did'
                then {{ publish_estimate('cost_avoided_per_person_gbp', 'n_people') }}
            else {{ publish_estimate(
                '-published_cost_change_gbp / nullif(' ~ round_count('n_people') ~ ', 0)', 'n_people'
            ) }}
        end as per_person,
        -- through ratio(): Spark cuts a quotient of wide decimals to 6 places (0.000184 people per
        -- pound for 0.00018448 at 3,000 patients), which moved 4 returns per £1 by 0.01
        {%- set people_referred_per_person = ratio(
            'cast(' ~ round_count('n_people') ~ ' as ' ~ type_exact_decimal() ~ ') * ' ~ round_count('people_referred'),
            'nullif(' ~ round_count('n_referred') ~ ', 0)'
        ) %}
        {{ ratio(people_referred_per_person, 'nullif(cast(programme_cost_gbp as ' ~ type_exact_decimal() ~ '), 0)') }}
            as people_per_pound
    from mart
),

hierarchy as (
    select * from {{ ref('int_geography_hierarchy') }}
),

located as (
    select
        points.*,
        {{ geography_ancestor_codes('points', 'hierarchy') }}
    from points
    left join hierarchy
        on
            points.geography_level = hierarchy.geography_level
            and points.geography_code = hierarchy.geography_code
),

named as (
    select
        located.*,
        {{ geography_ancestor_names(finer=true) }}
    from located
    {{ geography_name_joins('located.region_code', 'located.icb_code', 'located.sub_icb_code', 'located.pcn_code') }}
)

select
    design,
    design_label,
    geography_level,
    geography_code,
    geography_name,
    coalesce(region_code, 'UNK') as region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    region_name,
    icb_name,
    sub_icb_name,
    pcn_name,
    cohort_fy,
    population,
    {{ round_count('n_people') }} as n_people,
    {{ round_count('n_referred') }} as n_referred,
    n_measures,
    n_clusters,
    per_person as cost_avoided_per_person_gbp,
    case
        when design = 'staggered_did'
            then {{ publish_estimate('cost_avoided_per_person_ci_low', 'n_people') }}
        else {{ interval_around(
            'per_person', 'cost_avoided_per_person_gbp', 'cost_avoided_per_person_ci_low', 'n_people'
        ) }}
    end as cost_avoided_per_person_ci_low,
    case
        when design = 'staggered_did'
            then {{ publish_estimate('cost_avoided_per_person_ci_high', 'n_people') }}
        else {{ interval_around(
            'per_person', 'cost_avoided_per_person_gbp', 'cost_avoided_per_person_ci_high', 'n_people'
        ) }}
    end as cost_avoided_per_person_ci_high,
    {{ round_count('people_referred') }} as people_referred,
    programme_cost_gbp,
    {{ publish_estimate('per_person * people_per_pound', 'n_people') }} as return_per_pound,
    {{ publish_estimate(
        '(per_person + cost_avoided_per_person_ci_low - cost_avoided_per_person_gbp) * people_per_pound', 'n_people'
    ) }} as return_per_pound_ci_low,
    {{ publish_estimate(
        '(per_person + cost_avoided_per_person_ci_high - cost_avoided_per_person_gbp) * people_per_pound', 'n_people'
    ) }} as return_per_pound_ci_high,
    {{ suppress_flag(['n_people', 'n_referred', 'people_referred']) }} as is_suppressed
from named
