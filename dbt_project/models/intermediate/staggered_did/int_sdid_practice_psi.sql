{{ config(pre_hook=["{{ avoid_nested_loops() }}", "{{ prefer_hash_aggregation() }}"]) }}

-- Per measure, cohort g and practice: the sums the estimates and their practice-clustered influence
-- functions are made of (methods §4b/§4c), over usable cells only.
--   td_*: treated patients' own effects, sum of (y_i,g+e - base mean_i) - control change of the cell
--   ct_*: controls' influence, sum over the cells served of -(n_gc / m_gcm) * (own change - cell mean change)
-- weight_scope 'cell' weighs a control by all treated of the cell (any area holding the cell's
-- sub-ICB); a PCN code weighs it by the treated of that PCN only (PCN rows of the mart).
with cells as (
    select * from {{ ref('int_sdid_cells') }}
    where is_usable
),

treated as (
    select * from {{ ref('int_sdid_treated') }}
),

treated_counts as (
    select
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        practice_code,
        count(*) as n_treated,
        sum(case when is_engaged then 1 else 0 end) as n_engaged
    from treated
    group by g, stratum_sub_icb, stratum_sex, stratum_age_band, stratum_imd_quintile, practice_code
),

treated_event_sums as (
    select * from {{ ref('int_sdid_treated_sums') }}
),

treated_psi as (
    -- every usable cell's treated practices, for every measure (cells has a row per measure)
    select
        c.measure,
        tc.g,
        tc.practice_code,
        sum(tc.n_treated) as n_treated,
        sum(tc.n_engaged) as n_engaged,
        sum(coalesce(ts.base_sum, 0)) as base_sum,
        sum(coalesce(ts.engaged_base_sum, 0)) as engaged_base_sum,
    {%- for ev in sdid_events() %}
        sum(
            coalesce(ts.ty_{{ ev.col }}, 0) - coalesce(ts.base_sum, 0) - tc.n_treated * c.dc_{{ ev.col }}
        ) as td_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from treated_counts as tc
    inner join cells as c
        on {{ sdid_same_cell('tc', 'c') }}
    left join treated_event_sums as ts
        on
            c.measure = ts.measure
            and tc.practice_code = ts.practice_code
            and {{ sdid_same_cell('tc', 'ts') }}
    group by c.measure, tc.g, tc.practice_code
),

control_q as (
    -- per cell and practice: (own changes - cell mean change) summed over the practice's controls / m
    select
        c.measure,
        c.g,
        c.stratum_sub_icb,
        c.stratum_sex,
        c.stratum_age_band,
        c.stratum_imd_quintile,
        k.practice_code,
        c.n_treated,
        k.mp_m{{ '%02d' % sdid_lead() }} > 0 as has_controls,
    {%- for ev in sdid_events() %}
        (
            coalesce(s.sc_{{ ev.col }}, 0) - coalesce(s.scb_{{ ev.col }}, 0)
            - k.mp_{{ ev.col }} * c.dc_{{ ev.col }}
        ) / c.m_{{ ev.col }} as q_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from cells as c
    inner join {{ ref('int_sdid_control_counts') }} as k
        on {{ sdid_same_cell('c', 'k') }}
    left join {{ ref('int_sdid_control_sums') }} as s
        on
            c.measure = s.measure
            and k.practice_code = s.practice_code
            and {{ sdid_same_cell('c', 's') }}
),

pcn_weights as (
    select
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        pcn_code,
        count(*) as n_pcn
    from treated
    where pcn_code is not null
    group by g, stratum_sub_icb, stratum_sex, stratum_age_band, stratum_imd_quintile, pcn_code
),

control_psi as (
    select
        measure,
        g,
        practice_code,
        'cell' as weight_scope,
        max(case when has_controls then 1 else 0 end) as has_controls,
    {%- for ev in sdid_events() %}
        -sum(n_treated * q_{{ ev.col }}) as ct_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from control_q
    group by measure, g, practice_code
    union all
    select
        q.measure,
        q.g,
        q.practice_code,
        w.pcn_code as weight_scope,
        max(case when q.has_controls then 1 else 0 end) as has_controls,
    {%- for ev in sdid_events() %}
        -sum(w.n_pcn * q.q_{{ ev.col }}) as ct_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from control_q as q
    inner join pcn_weights as w
        on {{ sdid_same_cell('q', 'w') }}
    group by q.measure, q.g, q.practice_code, w.pcn_code
)

select
    coalesce(cp.measure, tp.measure) as measure,
    coalesce(cp.g, tp.g) as g,
    coalesce(cp.practice_code, tp.practice_code) as practice_code,
    coalesce(cp.weight_scope, 'cell') as weight_scope,
    coalesce(tp.n_treated, 0) as n_treated,
    coalesce(tp.n_engaged, 0) as n_engaged,
    coalesce(tp.base_sum, 0) as base_sum,
    coalesce(tp.engaged_base_sum, 0) as engaged_base_sum,
    coalesce(cp.has_controls, 0) as has_controls,
{%- for ev in sdid_events() %}
    coalesce(tp.td_{{ ev.col }}, 0) as td_{{ ev.col }},
    coalesce(cp.ct_{{ ev.col }}, 0) as ct_{{ ev.col }}{{ ',' if not loop.last }}
{%- endfor %}
from control_psi as cp
full outer join treated_psi as tp
    on
        cp.measure = tp.measure
        and cp.g = tp.g
        and cp.practice_code = tp.practice_code
        and cp.weight_scope = 'cell'
