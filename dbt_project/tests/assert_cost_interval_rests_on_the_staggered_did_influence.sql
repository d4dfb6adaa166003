{#- mart_cost_consequences combines the measures' 12-month effects through the practices' influence
    values of int_sdid_group_practices (methods §4c). That is only right while those values give each
    measure's own interval in mart_staggered_did: per measure and group, sqrt(G/(G-1) x sum of psi^2) / N
    must equal att_se of the referred cumulative row. Fails with every group and measure that differ. -#}
{%- set psi_terms = [] %}
{%- for ev in sdid_events() if ev.e >= 1 %}{% do psi_terms.append('psi_' ~ ev.col) %}{% endfor %}
with practice_psi as (
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
        {{ psi_terms | join(' + ') }} as psi_att
    from {{ ref('int_sdid_group_practices') }}
),

recomputed as (
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
        count(*) as n_clusters,
        sum(psi_att * psi_att) as ss
    from practice_psi
    group by measure, geography_level, geography_code, cohort_fy
)

select
    d.measure,
    d.geography_level,
    d.geography_code,
    d.cohort_fy,
    d.att_se,
    sqrt(r.ss * r.n_clusters / (r.n_clusters - 1)) / d.n_treated as from_influence
from {{ ref('mart_staggered_did') }} as d
inner join recomputed as r
    on
        d.measure = r.measure
        and d.geography_level = r.geography_level
        and d.geography_code = r.geography_code
        and d.cohort_fy = r.cohort_fy
where
    d.population = 'referred'
    and d.estimate = 'cumulative_12m'
    and d.att_se is not null
    and abs(d.att_se - sqrt(r.ss * r.n_clusters / (r.n_clusters - 1)) / d.n_treated) > 1e-9 * greatest(d.att_se, 1e-12)
