-- Sufficient statistics of mart_demand_reduction per finest cell (PCN, cohort year, month of the index
-- date, design, population, subgroup, window, measure): every reported group is a sum of cells, so
-- patient rows are read once whatever the number of geography levels. Exact numerics.
-- Incremental by index month (macros/incremental.sql): a build after the first recomputes the months
-- with index rows whose int_did_patient rows were rebuilt since, or whose group rows
-- (int_patient_groups: population, subgroup, geography) changed, as their fingerprint shows. A new
-- month of data makes one or two index months eligible (one per window), so little is recounted.
-- Cells are aggregated by hashing (prefer_hash_aggregation): sorting a refresh's 400,000 wide patient
-- rows by eleven keys took 1.8 s of its 3.8.
{{ config(
    materialized='incremental',
    unique_key=['cohort_fy', 'index_month'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook="{{ prefer_hash_aggregation() }}",
    post_hook="{{ forget_rows_missing_from(this, ref('int_patient_groups'), ['cohort_fy', 'index_month']) }}",
) }}

with groups as (
    select * from {{ ref('int_patient_groups') }}
),

group_fingerprints as (
    select
        cohort_fy,
        index_month,
        count(*) as group_rows,
        {{ order_free_fingerprint(dbt.concat(group_fingerprint_parts())) }} as group_fingerprint
    from groups
    group by cohort_fy, index_month
),

{%- if is_incremental() %}

    previous as (
        select
            cohort_fy,
            index_month,
            max(group_rows) as group_rows,
            max(group_fingerprint) as group_fingerprint
        from {{ this }}
        group by cohort_fy, index_month
    ),

    rebuilt_did as (
        select distinct
            g.cohort_fy,
            g.index_month
        from {{ ref('int_did_patient') }} as m
        inner join groups as g
            on
                m.patient_key = g.patient_key
                and m.window_months = g.window_months
        where m.todo_through > {{ did_since(this) }}
    ),

    months as (
        select
            f.cohort_fy,
            f.index_month
        from group_fingerprints as f
        left join previous as p
            on
                f.cohort_fy = p.cohort_fy
                and f.index_month = p.index_month
        left join rebuilt_did as r
            on
                f.cohort_fy = r.cohort_fy
                and f.index_month = r.index_month
        where
            p.cohort_fy is null
            or p.group_rows != f.group_rows
            or p.group_fingerprint != f.group_fingerprint
            or r.cohort_fy is not null
    ),
{%- else %}

    months as (
        select
            cohort_fy,
            index_month
        from group_fingerprints
    ),
{%- endif %}

spec as (
    select * from {{ ref('int_design_spec') }}
),

-- the group rows of the months to count, first: a refresh then joins a month or two of patients
groups_to_count as {{ materialized_cte() }} (
    select g.*
    from groups as g
    inner join months as mo
        on
            g.cohort_fy = mo.cohort_fy
            and g.index_month = mo.index_month
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
        cast(m.pre_count as numeric) as pre_count,
        cast(m.post_count as numeric) as post_count,
        cast(m.post_count - m.pre_count as numeric) as change,
        cast(m.control_pre_mean as numeric) as control_pre_mean,
        cast(m.control_post_mean as numeric) as control_post_mean,
        cast(m.did_contribution as numeric) as did_contribution
    from groups_to_count as g
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

select
    c.*,
    f.group_rows,
    f.group_fingerprint,
    (select max(d.todo_through) from {{ ref('int_did_patient') }} as d) as did_through
from cells as c
inner join group_fingerprints as f
    on
        c.cohort_fy = f.cohort_fy
        and c.index_month = f.index_month
