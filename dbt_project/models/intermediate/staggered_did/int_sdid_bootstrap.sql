{{ config(pre_hook="{{ avoid_nested_loops() }}") }}

-- Multiplier bootstrap over practices (methods §4c): B = 999 draws; in draw b every practice's
-- influence sums are multiplied by +1 or -1 from md5(practice_code || b), so the same data give the
-- same draws. One row per measure, group with at least 20 practices, and draw: t_* = sum over
-- practices of multiplier * psi_* / n_treated (event months), t_share the same for the engaged share.
{%- set events = sdid_events() %}
with group_practices as (
    select * from {{ ref('int_sdid_group_practices') }}
),

multipliers as (
    select * from {{ ref('int_sdid_multipliers') }}
),

group_sizes as (
    -- groups with at least 20 practices
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

groups as (
    -- an integer id per group: the practice x draw product is then summed by (group_id, draw), not by
    -- four text keys. Numbered over the groups alone (measures x areas x cohort years), not over their
    -- practices, so the one window without a partition sorts a list bounded by the geography
    select
        *,
        row_number() over (order by measure, geography_level, geography_code, cohort_fy) as group_id
    from group_sizes
),

members as (
    -- the groups' practices, only the columns the draws need
    select
        g.group_id,
        gp.practice_code,
        {%- for ev in events %}
            gp.psi_{{ ev.col }},
        {%- endfor %}
        gp.psi_share
    from group_practices as gp
    inner join groups as g on {{ sdid_same_group('gp', 'g') }}
),

totals as (
    select
        group_id,
        {%- for ev in events %}
            sum(psi_{{ ev.col }}) as psi_{{ ev.col }},
        {%- endfor %}
        sum(psi_share) as psi_share
    from members
    group by group_id
),

positive as (
    -- sum over the practices drawn +1: the draw is 2 * this - the total (half the rows of the full product)
    select
        mb.group_id,
        m.draw,
        {%- for ev in events %}
            sum(mb.psi_{{ ev.col }}) as psi_{{ ev.col }},
        {%- endfor %}
        sum(mb.psi_share) as psi_share
    from members as mb
    inner join multipliers as m on mb.practice_code = m.practice_code
    where m.multiplier > 0
    group by mb.group_id, m.draw
),

draws as (
    select distinct draw from multipliers
)

-- every (group, draw): a draw in which no practice of the group came out +1 has a positive sum of 0
select
    g.measure,
    g.geography_level,
    g.geography_code,
    g.cohort_fy,
    d.draw,
    {%- for ev in events %}
        (2 * coalesce(p.psi_{{ ev.col }}, 0) - t.psi_{{ ev.col }}) / g.n_treated as t_{{ ev.col }},
    {%- endfor %}
    (2 * coalesce(p.psi_share, 0) - t.psi_share) / g.n_treated as t_share
from groups as g
cross join draws as d
inner join totals as t on g.group_id = t.group_id
left join positive as p on g.group_id = p.group_id and d.draw = p.draw
