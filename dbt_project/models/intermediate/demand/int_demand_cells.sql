-- Sufficient statistics of mart_demand_reduction per finest cell (PCN, cohort year, month of the index
-- date, design, population, subgroup, window, measure): every reported group is a sum of cells, so
-- patient rows are read once whatever the number of geography levels. Exact numerics. Cells are
-- aggregated by hashing (prefer_hash_aggregation): sorting the wide patient rows by eleven keys
-- costs more than the rest of the model.
{{ config(pre_hook="{{ prefer_hash_aggregation() }}") }}

with groups as (
    select * from {{ ref('int_patient_groups') }}
),

spec as (
    select * from {{ ref('int_design_spec') }}
),

patient_values as (
    select
        s.design,
        g.region_code,
        g.icb_code,
        g.sub_icb_code,
        g.pcn_code,
        g.cohort_fy,
        g.index_month,
        g.population,
        g.subgroup,
        m.window_months,
        m.measure,
        m.is_matched,
        cast(m.pre_count as {{ type_exact_decimal() }}) as pre_count,
        cast(m.post_count as {{ type_exact_decimal() }}) as post_count,
        cast(m.post_count - m.pre_count as {{ type_exact_decimal() }}) as change,
        cast(m.control_pre_mean as {{ type_exact_decimal() }}) as control_pre_mean,
        cast(m.control_post_mean as {{ type_exact_decimal() }}) as control_post_mean,
        cast(m.did_contribution as {{ type_exact_decimal() }}) as did_contribution
    from groups as g
    inner join {{ ref('int_did_patient') }} as m
        on
            g.patient_key = m.patient_key
            and g.window_months = m.window_months
    inner join spec as s
        on
            m.window_months = s.window_months
            and m.measure = s.measure
            and g.subgroup = s.subgroup
),

cells as (
    select
        design,
        region_code,
        icb_code,
        sub_icb_code,
        pcn_code,
        cohort_fy,
        index_month,
        population,
        subgroup,
        window_months,
        measure,
        count(*) as n_patients,
        sum(pre_count) as pre_total,
        sum(post_count) as post_total,
        sum(change) as change_sum,
        sum(change * change) as change_sq_sum,
        sum(case when is_matched then 1 else 0 end) as n_matched,
        sum(case when is_matched then pre_count end) as matched_pre_total,
        sum(control_pre_mean) as control_pre_sum,
        sum(control_post_mean) as control_post_sum,
        sum(did_contribution) as did_sum,
        sum(did_contribution * did_contribution) as did_sq_sum
    from patient_values
    group by
        design, region_code, icb_code, sub_icb_code, pcn_code, cohort_fy, index_month, population, subgroup,
        window_months, measure
)

select * from cells
