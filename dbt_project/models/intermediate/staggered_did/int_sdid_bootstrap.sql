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
),

totals as (
    select
        gp.measure,
        gp.geography_level,
        gp.geography_code,
        gp.cohort_fy,
        {%- for ev in events %}
            sum(gp.psi_{{ ev.col }}) as psi_{{ ev.col }},
        {%- endfor %}
        sum(gp.psi_share) as psi_share
    from group_practices as gp
    inner join groups as g
        on
            gp.measure = g.measure
            and gp.geography_level = g.geography_level
            and gp.geography_code = g.geography_code
            and gp.cohort_fy = g.cohort_fy
    group by gp.measure, gp.geography_level, gp.geography_code, gp.cohort_fy
),

positive as (
    -- sum over the practices drawn +1: the draw is 2 * this - the total (half the rows of the full product)
    select
        gp.measure,
        gp.geography_level,
        gp.geography_code,
        gp.cohort_fy,
        m.draw,
        {%- for ev in events %}
            sum(gp.psi_{{ ev.col }}) as psi_{{ ev.col }},
        {%- endfor %}
        sum(gp.psi_share) as psi_share
    from group_practices as gp
    inner join groups as g
        on
            gp.measure = g.measure
            and gp.geography_level = g.geography_level
            and gp.geography_code = g.geography_code
            and gp.cohort_fy = g.cohort_fy
    inner join {{ ref('int_sdid_multipliers') }} as m on gp.practice_code = m.practice_code
    where m.multiplier > 0
    group by gp.measure, gp.geography_level, gp.geography_code, gp.cohort_fy, m.draw
),

draws as (
    select distinct draw from {{ ref('int_sdid_multipliers') }}
),

positive_or_none as (
    -- every (group, draw): a draw in which no practice of the group came out +1 sums to 0
    select * from positive
    union all
    select
        g.measure,
        g.geography_level,
        g.geography_code,
        g.cohort_fy,
        d.draw,
        {%- for ev in events %}
            0 as psi_{{ ev.col }},
        {%- endfor %}
        0 as psi_share
    from groups as g
    cross join draws as d
),

positive_all as (
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
        draw,
        {%- for ev in events %}
            sum(psi_{{ ev.col }}) as psi_{{ ev.col }},
        {%- endfor %}
        sum(psi_share) as psi_share
    from positive_or_none
    group by measure, geography_level, geography_code, cohort_fy, draw
)

select
    p.measure,
    p.geography_level,
    p.geography_code,
    p.cohort_fy,
    p.draw,
    {%- for ev in events %}
        (2 * p.psi_{{ ev.col }} - t.psi_{{ ev.col }}) / g.n_treated as t_{{ ev.col }},
    {%- endfor %}
    (2 * p.psi_share - t.psi_share) / g.n_treated as t_share
from positive_all as p
inner join groups as g
    on
        p.measure = g.measure
        and p.geography_level = g.geography_level
        and p.geography_code = g.geography_code
        and p.cohort_fy = g.cohort_fy
inner join totals as t
    on
        p.measure = t.measure
        and p.geography_level = t.geography_level
        and p.geography_code = t.geography_code
        and p.cohort_fy = t.cohort_fy
