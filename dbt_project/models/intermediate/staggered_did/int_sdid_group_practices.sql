{{ config(pre_hook="{{ avoid_nested_loops() }}") }}

-- One row per measure, group (geography level and code, cohort_fy) and practice contributing to the
-- group's estimate: the practice's sum of influence-function values (methods §4c), psi_* per event
-- month, and of the base mean, engaged share and engaged base mean; effect_* are the sums of the
-- treated patients' own effects (the estimate is their total over n_treated). A treated patient's psi is its
-- own effect minus ATT(g, m) of the group; a control's is its weighted own change minus its cell's.
-- Groups: england, region, icb, sub_icb (cells lie inside one sub-ICB) and pcn (controls weighed by
-- the PCN's treated); package-compatible mode builds England only.
{%- set events = sdid_events() %}
with psi as (
    select * from {{ ref('int_sdid_practice_psi') }}
),

practice_geography as (
    select distinct
        g,
        practice_code,
        pcn_code,
        sub_icb_code,
        icb_code,
        region_code
    from {{ ref('int_sdid_cell_practices') }}
),

cohort_years as (
    select distinct
        g,
        cohort_fy
    from {{ ref('int_sdid_treated') }}
),

located as (
    select
        p.*,
        y.cohort_fy,
        pg.pcn_code,
        pg.sub_icb_code,
        pg.icb_code,
        pg.region_code
    from psi as p
    inner join cohort_years as y on p.g = y.g
    left join practice_geography as pg on p.g = pg.g and p.practice_code = pg.practice_code
),

areas as (
    -- (level, code, whether the row's treated / controls count there)
    select
        l.*,
        'england' as geography_level,
        'ENG' as geography_code,
        1 as use_treated,
        1 as use_controls
    from located as l
    where l.weight_scope = 'cell'
    {%- if sdid_mode() == 'strata' %}
        {%- for level in ['region', 'icb', 'sub_icb'] %}
            union all
            select
                l.*,
                '{{ level }}' as geography_level,
                l.{{ level }}_code as geography_code,
                1 as use_treated,
                1 as use_controls
            from located as l
            where l.weight_scope = 'cell' and l.{{ level }}_code is not null
        {%- endfor %}
        union all
        select
            l.*,
            'pcn' as geography_level,
            l.pcn_code as geography_code,
            1 as use_treated,
            0 as use_controls
        from located as l
        where l.weight_scope = 'cell' and l.pcn_code is not null and l.n_treated > 0
        union all
        select
            l.*,
            'pcn' as geography_level,
            l.weight_scope as geography_code,
            0 as use_treated,
            1 as use_controls
        from located as l
        where l.weight_scope != 'cell'
    {%- endif %}
),

members as (
    select
        measure,
        geography_level,
        geography_code,
        'all' as cohort_fy,
        g,
        practice_code,
        use_treated * n_treated as n_treated,
        use_treated * n_engaged as n_engaged,
        use_treated * base_sum as base_sum,
        use_treated * engaged_base_sum as engaged_base_sum,
        use_controls * has_controls as has_controls,
    {%- for ev in events %}
        use_treated * td_{{ ev.col }} as td_{{ ev.col }},
        use_controls * ct_{{ ev.col }} as ct_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from areas
    union all
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
        g,
        practice_code,
        use_treated * n_treated as n_treated,
        use_treated * n_engaged as n_engaged,
        use_treated * base_sum as base_sum,
        use_treated * engaged_base_sum as engaged_base_sum,
        use_controls * has_controls as has_controls,
    {%- for ev in events %}
        use_treated * td_{{ ev.col }} as td_{{ ev.col }},
        use_controls * ct_{{ ev.col }} as ct_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from areas
),

cohort_att as (
    -- ATT(g, g + e) of the group
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
        g,
    {%- for ev in events %}
        cast(sum(td_{{ ev.col }}) as {{ type_double() }}) / sum(n_treated) as att_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from members
    group by measure, geography_level, geography_code, cohort_fy, g
    having sum(n_treated) > 0
),

group_means as (
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
        cast(sum(base_sum) as {{ type_double() }}) / sum(n_treated) as base_mean,
        cast(sum(n_engaged) as {{ type_double() }}) / sum(n_treated) as engaged_share,
        cast(sum(engaged_base_sum) as {{ type_double() }}) / nullif(sum(n_engaged), 0) as engaged_base_mean
    from members
    group by measure, geography_level, geography_code, cohort_fy
    having sum(n_treated) > 0
)

select
    m.measure,
    m.geography_level,
    m.geography_code,
    m.cohort_fy,
    m.practice_code,
    sum(m.n_treated) as n_treated,
    sum(m.n_engaged) as n_engaged,
    max(m.has_controls) as has_controls,
    sum(m.base_sum - m.n_treated * gm.base_mean) as psi_base,
    sum(m.n_engaged - m.n_treated * gm.engaged_share) as psi_share,
    sum(m.engaged_base_sum - m.n_engaged * gm.engaged_base_mean) / nullif(max(gm.engaged_share), 0) as psi_engaged_base,
    sum(m.base_sum) as base_sum,
    sum(m.engaged_base_sum) as engaged_base_sum,
    {%- for ev in events %}
        sum(m.td_{{ ev.col }}) as effect_{{ ev.col }},
    {%- endfor %}
{%- for ev in events %}
    sum(m.td_{{ ev.col }} - m.n_treated * ca.att_{{ ev.col }} + m.ct_{{ ev.col }})
        as psi_{{ ev.col }}{{ ',' if not loop.last }}
{%- endfor %}
from members as m
inner join group_means as gm
    on
        m.measure = gm.measure
        and m.geography_level = gm.geography_level
        and m.geography_code = gm.geography_code
        and m.cohort_fy = gm.cohort_fy
inner join cohort_att as ca
    on
        m.measure = ca.measure
        and m.geography_level = ca.geography_level
        and m.geography_code = ca.geography_code
        and m.cohort_fy = ca.cohort_fy
        and m.g = ca.g
group by m.measure, m.geography_level, m.geography_code, m.cohort_fy, m.practice_code
having sum(m.n_treated) > 0 or max(m.has_controls) > 0
