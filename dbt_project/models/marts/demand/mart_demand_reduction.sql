-- Before/after statistics (methods §3), matched difference-in-differences (§4 v2) and costs (§5) per
-- design, geography, cohort year, population, subgroup, window and measure. Unsuppressed.
-- Aggregates are exact numerics (same input, same digits on every run) cast to float at the end,
-- except the practices' sums of squares, taken in double (practice_sums).
-- The matched intervals are clustered by practice (methods §4c): with psi the influence of each
-- index patient (e_i - did_mean, at its own practice) and of each control (int_did_control_influence,
-- at its practice), Var = G / (G - 1) * sum over practices of (sum of psi)^2 / n_matched^2, t with
-- G - 1 degrees of freedom, NULL with fewer than 20 practices; did_pct by the delta method.
{%- set z = 1.96 %}

with cells as (
    -- sufficient statistics per finest cell (int_demand_cells, per index month: summed over the year)
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
        sum(n_patients) as n_patients,
        sum(pre_total) as pre_total,
        sum(post_total) as post_total,
        sum(change_sum) as change_sum,
        sum(change_sq_sum) as change_sq_sum,
        sum(n_matched) as n_matched,
        sum(matched_pre_total) as matched_pre_total,
        sum(control_pre_sum) as control_pre_sum,
        sum(control_post_sum) as control_post_sum,
        sum(did_sum) as did_sum,
        sum(did_sq_sum) as did_sq_sum
    from {{ ref('int_demand_cells') }}
    group by
        design, region_code, icb_code, sub_icb_code, pcn_code, cohort_fy, population, subgroup,
        window_months, measure
),

cluster_cells as (
    select * from {{ ref('int_demand_cluster_cells') }}
),

cluster_cells_by_level as (
    {%- for l in reporting_levels() %}
        select
            '{{ l.level }}' as geography_level,
            cast({{ l.code }} as {{ dbt.type_string() }}) as geography_code,
            design,
            cohort_fy,
            population,
            subgroup,
            window_months,
            measure,
            practice_code,
            n_matched,
            did_sum,
            matched_pre_total,
            control_influence
        from cluster_cells
        {%- if l.level != 'england' %}
            where {{ l.code }} is not null
        {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

practice_sums as (
    -- per reported group and practice: n_p matched index patients, b_p their e_i plus the
    -- influence of the controls registered there, q_p their pre counts; in double, as Spark keeps
    -- only 6 decimals of a product of two decimal(38, 18) (Postgres: all)
    select
        geography_level,
        geography_code,
        design,
        cohort_fy,
        population,
        subgroup,
        window_months,
        measure,
        practice_code,
        cast(sum(n_matched) as {{ type_double() }}) as n_p,
        cast(sum(did_sum) + sum(control_influence) as {{ type_double() }}) as b_p,
        cast(sum(matched_pre_total) as {{ type_double() }}) as q_p
    from cluster_cells_by_level
    group by
        geography_level, geography_code, design, cohort_fy, population, subgroup, window_months, measure,
        practice_code
    union all
    select
        geography_level,
        geography_code,
        design,
        'all' as cohort_fy,
        population,
        subgroup,
        window_months,
        measure,
        practice_code,
        cast(sum(n_matched) as {{ type_double() }}) as n_p,
        cast(sum(did_sum) + sum(control_influence) as {{ type_double() }}) as b_p,
        cast(sum(matched_pre_total) as {{ type_double() }}) as q_p
    from cluster_cells_by_level
    group by
        geography_level, geography_code, design, population, subgroup, window_months, measure, practice_code
),

cluster_sums as (
    -- sum over practices of (b_p - n_p * did_mean)^2 expands into these sums, so the mean can come later
    select
        geography_level,
        geography_code,
        design,
        cohort_fy,
        population,
        subgroup,
        window_months,
        measure,
        count(*) as n_clusters,
        sum(b_p * b_p) as sum_bb,
        sum(n_p * b_p) as sum_nb,
        sum(n_p * n_p) as sum_nn,
        sum(b_p * q_p) as sum_bq,
        sum(q_p * q_p) as sum_qq
    from practice_sums
    group by geography_level, geography_code, design, cohort_fy, population, subgroup, window_months, measure
),

unit_costs as (
    select * from {{ ref('unit_costs') }}
),

names as (
    select * from {{ ref('int_geography_names') }}
),

cells_by_level as (
    {%- for l in reporting_levels() %}
        select
            '{{ l.level }}' as geography_level,
            cast({{ l.code }} as {{ dbt.type_string() }}) as geography_code,
            design,
            cohort_fy,
            population,
            subgroup,
            window_months,
            measure,
            n_patients,
            pre_total,
            post_total,
            change_sum,
            change_sq_sum,
            n_matched,
            matched_pre_total,
            control_pre_sum,
            control_post_sum,
            did_sum,
            did_sq_sum
        from cells
        {%- if l.level != 'england' %}
            where {{ l.code }} is not null
        {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

cells_by_cohort as (
    select * from cells_by_level
    union all
    select
        geography_level,
        geography_code,
        design,
        'all' as cohort_fy,
        population,
        subgroup,
        window_months,
        measure,
        n_patients,
        pre_total,
        post_total,
        change_sum,
        change_sq_sum,
        n_matched,
        matched_pre_total,
        control_pre_sum,
        control_post_sum,
        did_sum,
        did_sq_sum
    from cells_by_level
),

summed as (
    select
        c.design,
        c.geography_level,
        c.geography_code,
        n.geography_name,
        n.region_code,
        c.cohort_fy,
        c.population,
        c.subgroup,
        c.window_months,
        c.measure,
        sum(c.n_patients) as n_patients,
        sum(c.pre_total) as pre_total,
        sum(c.post_total) as post_total,
        sum(c.change_sum) as change_sum,
        sum(c.change_sq_sum) as change_sq_sum,
        sum(c.n_matched) as n_matched,
        sum(c.matched_pre_total) as matched_pre_total,
        sum(c.control_pre_sum) as control_pre_sum,
        sum(c.control_post_sum) as control_post_sum,
        sum(c.did_sum) as did_sum,
        sum(c.did_sq_sum) as did_sq_sum
    from cells_by_cohort as c
    inner join names as n
        on
            c.geography_level = n.geography_level
            and c.geography_code = n.geography_code
    group by
        c.design, c.geography_level, c.geography_code, n.geography_name, n.region_code, c.cohort_fy,
        c.population, c.subgroup, c.window_months, c.measure
),

aggregated as (
    select
        design,
        geography_level,
        geography_code,
        geography_name,
        region_code,
        cohort_fy,
        population,
        subgroup,
        window_months,
        measure,
        n_patients,
        pre_total,
        post_total,
        {{ ratio('pre_total', 'n_patients') }} as pre_mean,
        {{ ratio('post_total', 'n_patients') }} as post_mean,
        {{ ratio('change_sum', 'n_patients') }} as change_mean,
        {{ sample_sd_from_sums('n_patients', 'change_sum', 'change_sq_sum') }} as change_sd,
        n_matched,
        {{ ratio('matched_pre_total', 'nullif(n_matched, 0)') }} as matched_pre_mean,
        {{ ratio('control_pre_sum', 'nullif(n_matched, 0)') }} as control_pre_mean,
        {{ ratio('control_post_sum', 'nullif(n_matched, 0)') }} as control_post_mean,
        {{ ratio('did_sum', 'nullif(n_matched, 0)') }} as did_mean
    from summed
),

clustered as (
    select
        a.*,
        coalesce(k.n_clusters, 0) as n_clusters,
        {{ ratio('a.did_mean', 'nullif(a.matched_pre_mean, 0)') }} as did_ratio,
        k.sum_bb,
        k.sum_nb,
        k.sum_nn,
        k.sum_bq,
        k.sum_qq,
        case when k.n_clusters >= 20 then {{ t_quantile_975('k.n_clusters - 1') }} end as t_975
    from aggregated as a
    left join cluster_sums as k
        on
            a.design = k.design
            and a.geography_level = k.geography_level
            and a.geography_code = k.geography_code
            and a.cohort_fy = k.cohort_fy
            and a.population = k.population
            and a.subgroup = k.subgroup
            and a.window_months = k.window_months
            and a.measure = k.measure
),

standard_errors as (
    select
        *,
        case
            when n_clusters >= 20
                then sqrt(
                    greatest(sum_bb - 2 * did_mean * sum_nb + did_mean * did_mean * sum_nn, 0)
                    * n_clusters / (n_clusters - 1)
                ) / n_matched
        end as did_se,
        -- delta method for did_mean / matched pre mean: the pre mean's own influence included
        case
            when n_clusters >= 20 and matched_pre_mean != 0
                then sqrt(
                    greatest(sum_bb - 2 * did_ratio * sum_bq + did_ratio * did_ratio * sum_qq, 0)
                    * n_clusters / (n_clusters - 1)
                ) / (n_matched * abs(matched_pre_mean))
        end as did_ratio_se
    from clustered
),

with_intervals as (
    select
        *,
        -- sample sd is NULL for one value, so the intervals are NULL when n < 2
        change_mean - {{ z }} * change_sd / sqrt(cast(n_patients as {{ type_exact_decimal() }})) as change_ci_low,
        change_mean + {{ z }} * change_sd / sqrt(cast(n_patients as {{ type_exact_decimal() }})) as change_ci_high,
        did_mean - t_975 * did_se as did_ci_low,
        did_mean + t_975 * did_se as did_ci_high,
        100 * (did_ratio - t_975 * did_ratio_se) as did_pct_ci_low,
        100 * (did_ratio + t_975 * did_ratio_se) as did_pct_ci_high
    from standard_errors
)

select
    cast(a.design as {{ dbt.type_string() }}) as design,
    cast(a.geography_level as {{ dbt.type_string() }}) as geography_level,
    cast(a.geography_code as {{ dbt.type_string() }}) as geography_code,
    cast(a.geography_name as {{ dbt.type_string() }}) as geography_name,
    cast(a.region_code as {{ dbt.type_string() }}) as region_code,
    cast(a.cohort_fy as {{ dbt.type_string() }}) as cohort_fy,
    cast(a.population as {{ dbt.type_string() }}) as population,
    cast(a.subgroup as {{ dbt.type_string() }}) as subgroup,
    cast(a.window_months as integer) as window_months,
    cast(a.measure as {{ dbt.type_string() }}) as measure,
    cast(a.n_patients as {{ dbt.type_bigint() }}) as n_patients,
    cast(a.pre_total as {{ dbt.type_bigint() }}) as pre_total,
    cast(a.post_total as {{ dbt.type_bigint() }}) as post_total,
    cast(a.pre_mean as {{ type_double() }}) as pre_mean,
    cast(a.post_mean as {{ type_double() }}) as post_mean,
    cast({{ ratio('100 * (a.post_total - a.pre_total)', 'nullif(a.pre_total, 0)') }} as {{ type_double() }})
        as pct_change,
    cast(100 * a.change_ci_low / nullif(a.pre_mean, 0) as {{ type_double() }}) as pct_change_ci_low,
    cast(100 * a.change_ci_high / nullif(a.pre_mean, 0) as {{ type_double() }}) as pct_change_ci_high,
    cast(a.n_matched as {{ dbt.type_bigint() }}) as n_matched,
    cast(a.n_patients - a.n_matched as {{ dbt.type_bigint() }}) as n_unmatched,
    cast(a.n_clusters as {{ dbt.type_bigint() }}) as n_clusters,
    cast(a.control_pre_mean as {{ type_double() }}) as control_pre_mean,
    cast(a.control_post_mean as {{ type_double() }}) as control_post_mean,
    cast(a.did_mean as {{ type_double() }}) as did_mean,
    cast(a.did_ci_low as {{ type_double() }}) as did_ci_low,
    cast(a.did_ci_high as {{ type_double() }}) as did_ci_high,
    cast(100 * a.did_mean / nullif(a.matched_pre_mean, 0) as {{ type_double() }}) as did_pct,
    cast(a.did_pct_ci_low as {{ type_double() }}) as did_pct_ci_low,
    cast(a.did_pct_ci_high as {{ type_double() }}) as did_pct_ci_high,
    cast(c.cost_gbp as {{ dbt.type_numeric() }}) as cost_gbp,
    cast((a.post_total - a.pre_total) * c.cost_gbp as {{ dbt.type_numeric() }}) as cost_change_gbp
from with_intervals as a
left join unit_costs as c on a.measure = c.measure
