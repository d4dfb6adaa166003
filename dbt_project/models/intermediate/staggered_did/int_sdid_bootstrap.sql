{{ config(pre_hook="{{ sdid_hash_joins() }}") }}

-- Multiplier bootstrap over practices (methods §4c): B = 999 draws; in draw b every practice's
-- influence sums are multiplied by +1 or -1 from md5(practice_code || b), so the same data give the
-- same draws. One row per measure, group with at least 20 practices, and draw: t_* = sum over
-- practices of multiplier * psi_* / n_treated (event months), t_share the same for the engaged share.
{%- set events = sdid_events() %}
with group_practices as (
    select * from {{ ref('int_sdid_group_practices') }}
),

groups as (
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
        sum(n_treated) as n_treated
    from group_practices
    group by measure, geography_level, geography_code, cohort_fy
    having count(*) >= 20
)

select
    gp.measure,
    gp.geography_level,
    gp.geography_code,
    gp.cohort_fy,
    m.draw,
    {%- for ev in events %}
    sum(m.multiplier * gp.psi_{{ ev.col }}) / max(g.n_treated) as t_{{ ev.col }},
    {%- endfor %}
    sum(m.multiplier * gp.psi_share) / max(g.n_treated) as t_share
from group_practices as gp
inner join groups as g
    on
        gp.measure = g.measure
        and gp.geography_level = g.geography_level
        and gp.geography_code = g.geography_code
        and gp.cohort_fy = g.cohort_fy
inner join {{ ref('int_sdid_multipliers') }} as m on gp.practice_code = m.practice_code
group by gp.measure, gp.geography_level, gp.geography_code, gp.cohort_fy, m.draw
