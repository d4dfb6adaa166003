-- The matched estimate's practice clusters per finest cell of mart_demand_reduction (methods §4c):
-- per design, geography, cohort year, population, subgroup, window, measure and practice, the
-- matched index patients registered there (n_matched, their e_i and pre counts summed) and the
-- influence of the controls registered there who serve the cell's index patients. The mart sums
-- them per practice for each reported group, then squares.
{{ config(pre_hook="{{ prefer_hash_aggregation() }}") }}

with groups as (
    select * from {{ ref('int_patient_groups') }}
),

spec as (
    select * from {{ ref('int_design_spec') }}
),

matched as (
    select * from {{ ref('int_did_patient') }}
    where is_matched
),

control_influence as (
    select * from {{ ref('int_did_control_influence') }}
),

index_terms as (
    select
        s.design,
        g.region_code,
        g.icb_code,
        g.sub_icb_code,
        g.pcn_code,
        g.cohort_fy,
        g.population,
        g.subgroup,
        m.window_months,
        m.measure,
        m.practice_code,
        1 as n_matched,
        m.did_contribution,
        m.pre_count,
        0 as control_influence
    from groups as g
    inner join matched as m
        on
            g.patient_key = m.patient_key
            and g.window_months = m.window_months
    inner join spec as s
        on
            m.window_months = s.window_months
            and m.measure = s.measure
            and g.subgroup = s.subgroup
),

control_terms as (
    select
        s.design,
        g.region_code,
        g.icb_code,
        g.sub_icb_code,
        g.pcn_code,
        g.cohort_fy,
        g.population,
        g.subgroup,
        c.window_months,
        c.measure,
        c.practice_code,
        0 as n_matched,
        0 as did_contribution,
        0 as pre_count,
        c.control_influence
    from groups as g
    inner join control_influence as c
        on
            g.patient_key = c.index_key
            and g.window_months = c.window_months
    inner join spec as s
        on
            c.window_months = s.window_months
            and c.measure = s.measure
            and g.subgroup = s.subgroup
),

terms as (
    select * from index_terms
    union all
    select * from control_terms
)

select
    design,
    region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    cohort_fy,
    population,
    subgroup,
    window_months,
    measure,
    practice_code,
    sum(n_matched) as n_matched,
    sum(cast(did_contribution as {{ type_exact_decimal() }})) as did_sum,
    sum(cast(pre_count as {{ type_exact_decimal() }})) as matched_pre_total,
    sum(cast(control_influence as {{ type_exact_decimal() }})) as control_influence
from terms
group by
    design, region_code, icb_code, sub_icb_code, pcn_code, cohort_fy, population, subgroup, window_months,
    measure, practice_code
