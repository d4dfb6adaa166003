-- Cost consequences (methods §5) per geography, cohort_fy and population, unsuppressed: NHS cost avoided
-- per person over the 12 months after referral and per £1 of link-worker cost, from two designs labelled
-- for what they are:
-- * staggered_did (the primary causal estimate, methods §4b): sum over costed measures of unit cost x
--   the 12-month effect. The measures' effects rest on the same patients and practices, so they are
--   correlated: the interval combines them through the same practice influence values as each effect's
--   own interval (methods §4c), psi_cost of a practice = sum over measures of unit cost x its psi, with
--   t(G-1) and NULL under 20 practices; summing the measures' bounds would ignore the correlation.
-- * before_after (no comparison group, as the Gloucestershire evaluation reported its £ per £1): the same
--   sum over measures of the mean change post - pre (methods §3, W = 12, subgroup all); its interval is
--   the conservative sum of the measures' bounds (no patient-level covariance is kept for it).
-- Per £1 = cost avoided per person x the people the figure stands for in the period / programme cost in
-- the period: people referred (index referrals, mart_rollout_progress) times the population's share of
-- the referred (n_people / n_referred: 1 for `referred`, the engaged share for `engaged`); programme
-- cost = link-worker WTE-years x var link_worker_cost_per_wte_year.
{%- set psi_terms = [] %}
{%- for ev in sdid_events() if ev.e >= 1 %}{% do psi_terms.append('p.psi_' ~ ev.col) %}{% endfor %}
with unit_costs as (
    select
        measure,
        cast(cost_gbp as {{ type_double() }}) as cost_gbp
    from {{ ref('unit_costs') }}
),

did as (
    select * from {{ ref('mart_staggered_did') }}
    where estimate = 'cumulative_12m'
),

practices as (
    select * from {{ ref('int_sdid_group_practices') }}
),

t_quantiles as (
    select * from {{ ref('ref_t_quantiles') }}
),

did_costed as (
    select
        d.geography_level,
        d.geography_code,
        d.cohort_fy,
        d.population,
        max(d.geography_name) as geography_name,
        max(d.region_code) as region_code,
        max(d.n_treated) as n_treated,
        max(d.engaged_share) as engaged_share,
        count(*) as n_measures,
        -sum(c.cost_gbp * d.att) as cost_avoided_per_person
    from did as d
    inner join unit_costs as c on d.measure = c.measure
    group by d.geography_level, d.geography_code, d.cohort_fy, d.population
),

-- each practice's influence on the 12-month effect, per costed measure
practice_measure as (
    select
        p.geography_level,
        p.geography_code,
        p.cohort_fy,
        p.practice_code,
        c.cost_gbp,
        p.psi_share,
        {{ psi_terms | join(' + ') }} as psi_att
    from practices as p
    inner join unit_costs as c on p.measure = c.measure
),

practice_cost as (
    select
        m.geography_level,
        m.geography_code,
        m.cohort_fy,
        m.practice_code,
        sum(m.cost_gbp * m.psi_att) as psi_cost,
        max(m.psi_share) as psi_share
    from practice_measure as m
    group by m.geography_level, m.geography_code, m.cohort_fy, m.practice_code
),

clusters as (
    -- the practices behind each area's causal estimate (published as n_clusters whatever their number)
    select
        pc.geography_level,
        pc.geography_code,
        pc.cohort_fy,
        count(*) as n_clusters
    from practice_cost as pc
    inner join did_costed as r
        on
            pc.geography_level = r.geography_level
            and pc.geography_code = r.geography_code
            and pc.cohort_fy = r.cohort_fy
            and r.population = 'referred'
    group by pc.geography_level, pc.geography_code, pc.cohort_fy
),

did_variance as (
    -- only areas with 20 or more practices get an interval (methods §4c), so only theirs is computed:
    -- G - 1 is never 0 here. engaged = referred / share: delta method, the share's own influence
    -- included (as mart_staggered_did)
    select
        pc.geography_level,
        pc.geography_code,
        pc.cohort_fy,
        n.n_clusters,
        sum(pc.psi_cost * pc.psi_cost) as ss_referred,
        sum(power(
            pc.psi_cost / nullif(s.engaged_share, 0)
            + r.cost_avoided_per_person * pc.psi_share / nullif(s.engaged_share * s.engaged_share, 0),
            2
        )) as ss_engaged
    from practice_cost as pc
    inner join clusters as n
        on
            pc.geography_level = n.geography_level
            and pc.geography_code = n.geography_code
            and pc.cohort_fy = n.cohort_fy
            and n.n_clusters >= 20
    -- the engaged share is the group's, the same for every measure (same patients)
    left join did_costed as s
        on
            pc.geography_level = s.geography_level
            and pc.geography_code = s.geography_code
            and pc.cohort_fy = s.cohort_fy
            and s.population = 'engaged'
    inner join did_costed as r
        on
            pc.geography_level = r.geography_level
            and pc.geography_code = r.geography_code
            and pc.cohort_fy = r.cohort_fy
            and r.population = 'referred'
    group by pc.geography_level, pc.geography_code, pc.cohort_fy, n.n_clusters
),

t_crits as (
    -- t with G - 1 degrees of freedom
    select
        v.geography_level,
        v.geography_code,
        v.cohort_fy,
        coalesce(q.t_975, {{ t_quantile_975('v.n_clusters - 1') }}) as t_crit
    from did_variance as v
    left join t_quantiles as q on v.n_clusters - 1 = q.df
),

did_rows as (
    -- every area with practices gets its point estimate; the interval only where did_variance has one.
    -- mart_staggered_did keeps groups with people only, so n_treated is never 0
    select
        'staggered_did' as design,
        d.geography_level,
        d.geography_code,
        d.geography_name,
        d.region_code,
        d.cohort_fy,
        d.population,
        -- ties to even on both engines (Spark's round() of a double breaks them away from zero)
        cast(
            {{ round_half_even('d.n_treated * coalesce(d.engaged_share, 1)') }} as {{ dbt.type_bigint() }}
        ) as n_people,
        d.n_treated as n_referred,
        d.n_measures,
        d.cost_avoided_per_person,
        cast(null as {{ type_double() }}) as published_cost_change_gbp,
        t.t_crit
        * sqrt(
            case when d.population = 'engaged' then v.ss_engaged else v.ss_referred end
            * v.n_clusters / (v.n_clusters - 1)
        )
        / d.n_treated as half_width,
        n.n_clusters
    from did_costed as d
    inner join clusters as n
        on
            d.geography_level = n.geography_level
            and d.geography_code = n.geography_code
            and d.cohort_fy = n.cohort_fy
    left join did_variance as v
        on
            d.geography_level = v.geography_level
            and d.geography_code = v.geography_code
            and d.cohort_fy = v.cohort_fy
    left join t_crits as t
        on
            d.geography_level = t.geography_level
            and d.geography_code = t.geography_code
            and d.cohort_fy = t.cohort_fy
),

before_after as (
    select * from {{ ref('mart_demand_reduction') }}
    where design = 'standard' and window_months = 12 and subgroup = 'all'
),

before_after_costed as (
    select
        b.geography_level,
        b.geography_code,
        b.cohort_fy,
        b.population,
        max(b.geography_name) as geography_name,
        max(b.region_code) as region_code,
        max(b.n_patients) as n_patients,
        count(*) as n_measures,
        -sum(c.cost_gbp * (b.post_total - b.pre_total)) / nullif(max(b.n_patients), 0) as cost_avoided_per_person,
        -- the same sum from the rounded totals (methods §9), which the published twin divides by the
        -- rounded number of people, as pub_mart_demand_reduction's cost_change_gbp
        sum(c.cost_gbp * ({{ round_count('b.post_total') }} - {{ round_count('b.pre_total') }}))
            as published_cost_change_gbp,
        -- cost avoided is minus the change: its low end comes from the change's high end; no interval
        -- unless every measure has one (fewer than 2 people, or no events before)
        case
            when count(b.pct_change_ci_high) = count(*)
                then -sum(c.cost_gbp * b.pct_change_ci_high * b.pre_mean / 100)
        end as ci_low,
        case
            when count(b.pct_change_ci_low) = count(*)
                then -sum(c.cost_gbp * b.pct_change_ci_low * b.pre_mean / 100)
        end as ci_high
    from before_after as b
    inner join unit_costs as c on b.measure = c.measure
    group by b.geography_level, b.geography_code, b.cohort_fy, b.population
),

before_after_rows as (
    select
        'before_after' as design,
        b.geography_level,
        b.geography_code,
        b.geography_name,
        b.region_code,
        b.cohort_fy,
        b.population,
        b.n_patients as n_people,
        r.n_patients as n_referred,
        b.n_measures,
        b.cost_avoided_per_person,
        b.published_cost_change_gbp,
        b.ci_low,
        b.ci_high,
        cast(null as bigint) as n_clusters
    from before_after_costed as b
    left join before_after_costed as r
        on
            b.geography_level = r.geography_level
            and b.geography_code = r.geography_code
            and b.cohort_fy = r.cohort_fy
            and r.population = 'referred'
),

estimates as (
    select
        design,
        geography_level,
        geography_code,
        geography_name,
        region_code,
        cohort_fy,
        population,
        n_people,
        n_referred,
        n_measures,
        cost_avoided_per_person,
        published_cost_change_gbp,
        cost_avoided_per_person - half_width as ci_low,
        cost_avoided_per_person + half_width as ci_high,
        n_clusters
    from did_rows
    union all
    select * from before_after_rows
),

progress as (
    select * from {{ ref('mart_rollout_progress') }}
),

-- people referred and programme cost per period: each financial year, and 'all' (every year)
programme as (
    select
        geography_level,
        geography_code,
        financial_year as cohort_fy,
        referrals as people_referred,
        programme_cost_gbp
    from progress
    union all
    select
        geography_level,
        geography_code,
        'all' as cohort_fy,
        sum(referrals) as people_referred,
        sum(programme_cost_gbp) as programme_cost_gbp
    from progress
    group by geography_level, geography_code
)

select
    cast(e.design as {{ dbt.type_string() }}) as design,
    cast(case e.design
        when 'staggered_did' then 'Causal estimate: staggered difference-in-differences (primary)'
        else 'Before/after, no comparison group (as the published evaluations reported)'
    end as {{ dbt.type_string() }}) as design_label,
    cast(e.geography_level as {{ dbt.type_string() }}) as geography_level,
    cast(e.geography_code as {{ dbt.type_string() }}) as geography_code,
    cast(e.geography_name as {{ dbt.type_string() }}) as geography_name,
    cast(e.region_code as {{ dbt.type_string() }}) as region_code,
    cast(e.cohort_fy as {{ dbt.type_string() }}) as cohort_fy,
    cast(e.population as {{ dbt.type_string() }}) as population,
    cast(e.n_people as {{ dbt.type_bigint() }}) as n_people,
    cast(e.n_referred as {{ dbt.type_bigint() }}) as n_referred,
    cast(e.n_measures as integer) as n_measures,
    cast(e.n_clusters as {{ dbt.type_bigint() }}) as n_clusters,
    cast(e.cost_avoided_per_person as {{ type_double() }}) as cost_avoided_per_person_gbp,
    cast(e.ci_low as {{ type_double() }}) as cost_avoided_per_person_ci_low,
    cast(e.ci_high as {{ type_double() }}) as cost_avoided_per_person_ci_high,
    cast(e.published_cost_change_gbp as {{ type_double() }}) as published_cost_change_gbp,
    cast(p.people_referred as {{ dbt.type_bigint() }}) as people_referred,
    cast(p.programme_cost_gbp as {{ type_double() }}) as programme_cost_gbp,
    cast(
        e.cost_avoided_per_person * e.n_people * p.people_referred
        / nullif(e.n_referred, 0) / nullif(p.programme_cost_gbp, 0)
        as {{ type_double() }}
    ) as return_per_pound,
    cast(
        e.ci_low * e.n_people * p.people_referred
        / nullif(e.n_referred, 0) / nullif(p.programme_cost_gbp, 0)
        as {{ type_double() }}
    ) as return_per_pound_ci_low,
    cast(
        e.ci_high * e.n_people * p.people_referred
        / nullif(e.n_referred, 0) / nullif(p.programme_cost_gbp, 0)
        as {{ type_double() }}
    ) as return_per_pound_ci_high
from estimates as e
left join programme as p
    on
        e.geography_level = p.geography_level
        and e.geography_code = p.geography_code
        and e.cohort_fy = p.cohort_fy
