{{ config(pre_hook="{{ avoid_nested_loops() }}") }}

-- Staggered difference-in-differences (methods §4b, intervals §4c; outputs mart_staggered_did): per
-- geography, cohort_fy, population and measure, the cumulative 12-month effect (one row) and the event
-- study e = -15 .. 12 (one row per event month).
{%- set events = sdid_events() %}
{%- set post = events | selectattr('e', '>=', 1) | list %}
{%- set placebo = events | selectattr('e', '<', -(var('sdid_anticipation_months') | int)) | list %}
{%- set draws = 999 %}
with group_practices as (
    select * from {{ ref('int_sdid_group_practices') }}
),

boot as (
    select * from {{ ref('int_sdid_bootstrap') }}
),

names as (
    select * from {{ ref('int_geography_names') }}
),

t_quantiles as (
    select * from {{ ref('ref_t_quantiles') }}
),

groups as (
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
        sum(n_treated) as n_treated,
        count(*) as n_clusters,
        cast(count(*) as {{ type_double() }}) / nullif(count(*) - 1, 0) as cluster_factor,
        cast(sum(base_sum) as {{ type_double() }}) / sum(n_treated) as base_mean,
        cast(sum(n_engaged) as {{ type_double() }}) / sum(n_treated) as engaged_share,
        cast(sum(engaged_base_sum) as {{ type_double() }}) / nullif(sum(n_engaged), 0) as engaged_base_mean,
        {%- for ev in events %}
            cast(sum(effect_{{ ev.col }}) as {{ type_double() }}) / sum(n_treated) as theta_{{ ev.col }},
        {%- endfor %}
        cast(
            {%- for ev in post %}
                sum(effect_{{ ev.col }}){{ ' +' if not loop.last }}
            {%- endfor %}
            as {{ type_double() }}
        )
        / sum(n_treated) as att
    from group_practices
    group by measure, geography_level, geography_code, cohort_fy
    having sum(n_treated) > 0 and (geography_level != 'pcn' or sum(n_treated) >= 8)
),

practice_terms as (
    -- each practice's influence on the cumulative estimates; ratios by the delta method
    select
        gp.measure,
        gp.geography_level,
        gp.geography_code,
        gp.cohort_fy,
        gp.psi_base,
        gp.psi_engaged_base,
        g.att,
        g.base_mean,
        g.engaged_share,
        g.engaged_base_mean,
        {%- for ev in post %}
            gp.psi_{{ ev.col }}{{ ' +' if not loop.last }}
        {%- endfor %}
            as psi_att,
        (
            {%- for ev in post %}
                gp.psi_{{ ev.col }}{{ ' +' if not loop.last }}
            {%- endfor %}
        )
        / nullif(g.engaged_share, 0)
        - g.att * gp.psi_share / nullif(g.engaged_share * g.engaged_share, 0) as psi_engaged_att
    from group_practices as gp
    inner join groups as g on {{ sdid_same_group('gp', 'g') }}
),

analytic as (
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
        sum(psi_att * psi_att) as ss_att,
        sum(power(psi_att - att / nullif(base_mean, 0) * psi_base, 2)) as ss_pct,
        sum(psi_engaged_att * psi_engaged_att) as ss_engaged_att,
        sum(power(
            psi_engaged_att - att / nullif(engaged_share * engaged_base_mean, 0) * psi_engaged_base, 2
        )) as ss_engaged_pct
    from practice_terms
    group by measure, geography_level, geography_code, cohort_fy
),

boot_draws as (
    select
        b.measure,
        b.geography_level,
        b.geography_code,
        b.cohort_fy,
        b.draw,
        g.cluster_factor,
    {%- for ev in events %}
        b.t_{{ ev.col }},
        b.t_{{ ev.col }} / nullif(g.engaged_share, 0)
        - g.theta_{{ ev.col }}
        * b.t_share
        / nullif(g.engaged_share * g.engaged_share, 0) as te_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from boot as b
    inner join groups as g
        on
            b.measure = g.measure
            and b.geography_level = g.geography_level
            and b.geography_code = g.geography_code
            and b.cohort_fy = g.cohort_fy
),

boot_se as (
    select
        measure,
        geography_level,
        geography_code,
        cohort_fy,
    {%- for ev in events %}
        sqrt(max(cluster_factor) * avg(t_{{ ev.col }} * t_{{ ev.col }})) as se_{{ ev.col }},
        sqrt(max(cluster_factor) * avg(te_{{ ev.col }} * te_{{ ev.col }})) as see_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from boot_draws
    group by measure, geography_level, geography_code, cohort_fy
),

boot_sup as (
    -- per draw: the largest |t| over all event months (uniform band) and over placebo months (pretrend)
    select
        d.measure,
        d.geography_level,
        d.geography_code,
        d.cohort_fy,
        d.draw,
        {{ sdid_sup_t('d', 't_', 's', 'se_', events) }} as sup_all,
        {{ sdid_sup_t('d', 't_', 's', 'se_', placebo) }} as sup_placebo,
        {{ sdid_sup_t('d', 'te_', 's', 'see_', events) }} as sup_engaged_all,
        {{ sdid_sup_t('d', 'te_', 's', 'see_', placebo) }} as sup_engaged_placebo
    from boot_draws as d
    inner join boot_se as s
        on
            d.measure = s.measure
            and d.geography_level = s.geography_level
            and d.geography_code = s.geography_code
            and d.cohort_fy = s.cohort_fy
),

boot_ranked as (
    select
        *,
        row_number() over (
            partition by measure, geography_level, geography_code, cohort_fy order by sup_all, draw
        ) as rank_all,
        row_number() over (
            partition by measure, geography_level, geography_code, cohort_fy order by sup_engaged_all, draw
        ) as rank_engaged
    from boot_sup
),

observed as (
    select
        g.measure,
        g.geography_level,
        g.geography_code,
        g.cohort_fy,
        greatest(
            {%- for ev in placebo %}
            case when s.se_{{ ev.col }} > 0 then abs(g.theta_{{ ev.col }}) / s.se_{{ ev.col }} end{{ ',' if not loop.last }}
            {%- endfor %}
        ) as placebo_stat,
        greatest(
            {%- for ev in placebo %}
            case
                when s.see_{{ ev.col }} > 0
                    then abs(g.theta_{{ ev.col }} / nullif(g.engaged_share, 0)) / s.see_{{ ev.col }}
            end{{ ',' if not loop.last }}
            {%- endfor %}
        ) as engaged_placebo_stat
    from groups as g
    inner join boot_se as s
        on
            g.measure = s.measure
            and g.geography_level = s.geography_level
            and g.geography_code = s.geography_code
            and g.cohort_fy = s.cohort_fy
),

band_tests as (
    -- sup-t critical value: the ceil(0.95 B)-th smallest draw; pretrend p = (1 + #{sup >= observed}) / (B + 1)
    select
        r.measure,
        r.geography_level,
        r.geography_code,
        r.cohort_fy,
        max(case when r.rank_all = {{ (0.95 * draws) | round(0, 'ceil') | int }} then r.sup_all end) as crit,
        max(case when r.rank_engaged = {{ (0.95 * draws) | round(0, 'ceil') | int }} then r.sup_engaged_all end)
            as crit_engaged,
        (1 + sum(case when r.sup_placebo >= o.placebo_stat then 1 else 0 end)) / {{ draws + 1 }}.0 as pretrend_p,
        (1 + sum(case when r.sup_engaged_placebo >= o.engaged_placebo_stat then 1 else 0 end))
        / {{ draws + 1 }}.0 as engaged_pretrend_p
    from boot_ranked as r
    inner join observed as o
        on
            r.measure = o.measure
            and r.geography_level = o.geography_level
            and r.geography_code = o.geography_code
            and r.cohort_fy = o.cohort_fy
    group by r.measure, r.geography_level, r.geography_code, r.cohort_fy
),

unmatched as (
    -- treated panel patients of cells with no control through g + 12
    select
        t.*,
        c.is_usable
    from {{ ref('int_sdid_treated') }} as t
    inner join (
        select distinct
            g,
            stratum_sub_icb,
            stratum_sex,
            stratum_age_band,
            stratum_imd_quintile,
            is_usable
        from {{ ref('int_sdid_cells') }}
    ) as c
        on
            t.g = c.g
            and t.stratum_sub_icb = c.stratum_sub_icb
            and t.stratum_sex = c.stratum_sex
            and t.stratum_age_band = c.stratum_age_band
            and t.stratum_imd_quintile = c.stratum_imd_quintile
    where not c.is_usable
),

unmatched_areas as (
    select
        'england' as geography_level,
        'ENG' as geography_code,
        cohort_fy
    from unmatched
    {%- for level in ['region', 'icb', 'sub_icb', 'pcn'] %}
        union all
        select
            '{{ level }}' as geography_level,
            {{ level }}_code as geography_code,
            cohort_fy
        from unmatched
        where {{ level }}_code is not null
    {%- endfor %}
),

unmatched_counts as (
    select
        geography_level,
        geography_code,
        cohort_fy,
        count(*) as n_unmatched
    from unmatched_areas
    group by geography_level, geography_code, cohort_fy
    union all
    select
        geography_level,
        geography_code,
        'all' as cohort_fy,
        count(*) as n_unmatched
    from unmatched_areas
    group by geography_level, geography_code
),

estimates as (
    select
        g.*,
        a.ss_att,
        a.ss_pct,
        a.ss_engaged_att,
        a.ss_engaged_pct,
        b.crit,
        b.crit_engaged,
        b.pretrend_p,
        b.engaged_pretrend_p,
        coalesce(u.n_unmatched, 0) as n_unmatched,
        case when g.n_clusters >= 20 then coalesce(q.t_975, {{ sdid_t_975_expansion('(g.n_clusters - 1)') }}) end
            as t_crit,
    {%- for ev in events %}
        s.se_{{ ev.col }},
        s.see_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from groups as g
    inner join analytic as a
        on
            g.measure = a.measure
            and g.geography_level = a.geography_level
            and g.geography_code = a.geography_code
            and g.cohort_fy = a.cohort_fy
    left join boot_se as s
        on
            g.measure = s.measure
            and g.geography_level = s.geography_level
            and g.geography_code = s.geography_code
            and g.cohort_fy = s.cohort_fy
    left join band_tests as b
        on
            g.measure = b.measure
            and g.geography_level = b.geography_level
            and g.geography_code = b.geography_code
            and g.cohort_fy = b.cohort_fy
    left join unmatched_counts as u
        on
            g.geography_level = u.geography_level
            and g.geography_code = u.geography_code
            and g.cohort_fy = u.cohort_fy
    left join t_quantiles as q on g.n_clusters - 1 = q.df
),

cumulative as (
    select
        e.*,
        'referred' as population,
        e.att as est,
        sqrt(e.cluster_factor * e.ss_att) / e.n_treated as se,
        e.base_mean as base,
        100 * e.att / nullif(12 * e.base_mean, 0) as pct,
        100 / nullif(12 * e.base_mean, 0) * sqrt(e.cluster_factor * e.ss_pct) / e.n_treated as pct_se,
        e.pretrend_p as pretrend,
        cast(null as {{ type_double() }}) as share
    from estimates as e
    union all
    select
        e.*,
        'engaged' as population,
        e.att / e.engaged_share as est,
        sqrt(e.cluster_factor * e.ss_engaged_att) / e.n_treated as se,
        e.engaged_base_mean as base,
        100 * e.att / e.engaged_share / nullif(12 * e.engaged_base_mean, 0) as pct,
        100 / nullif(12 * e.engaged_base_mean, 0) * sqrt(e.cluster_factor * e.ss_engaged_pct) / e.n_treated
            as pct_se,
        e.engaged_pretrend_p as pretrend,
        e.engaged_share as share
    from estimates as e
    where e.engaged_share > 0
),

event_months as (
    {%- for ev in events %}
        select {{ ev.e }} as event_month{{ ' union all' if not loop.last }}
    {%- endfor %}
),

event_rows as (
    select
        c.*,
        m.event_month,
        case m.event_month
            {%- for ev in events %}
                when {{ ev.e }} then c.theta_{{ ev.col }}
            {%- endfor %}
        end / case when c.population = 'engaged' then c.engaged_share else 1 end as theta,
        case m.event_month
            {%- for ev in events %}
                when
                    {{ ev.e }}
                    then case when c.population = 'engaged' then c.see_{{ ev.col }} else c.se_{{ ev.col }} end
            {%- endfor %}
        end as theta_se,
        case when c.population = 'engaged' then c.crit_engaged else c.crit end as band_crit
    from cumulative as c
    cross join event_months as m
),

final as (
    select
        geography_level,
        geography_code,
        cohort_fy,
        population,
        measure,
        'cumulative_12m' as estimate,
        cast(null as integer) as event_month,
        n_treated,
        n_unmatched,
        n_clusters,
        base as treated_base_mean,
        est as att,
        case when t_crit is not null then se end as att_se,
        est - t_crit * se as att_ci_low,
        est + t_crit * se as att_ci_high,
        pct as att_pct,
        pct - t_crit * pct_se as att_pct_ci_low,
        pct + t_crit * pct_se as att_pct_ci_high,
        cast(null as {{ type_double() }}) as band_low,
        cast(null as {{ type_double() }}) as band_high,
        case when t_crit is not null then pretrend end as pretrend_p,
        share as engaged_share
    from cumulative
    union all
    select
        geography_level,
        geography_code,
        cohort_fy,
        population,
        measure,
        'event_study' as estimate,
        event_month,
        n_treated,
        n_unmatched,
        n_clusters,
        base as treated_base_mean,
        theta as att,
        case when t_crit is not null then theta_se end as att_se,
        theta - t_crit * theta_se as att_ci_low,
        theta + t_crit * theta_se as att_ci_high,
        cast(null as {{ type_double() }}) as att_pct,
        cast(null as {{ type_double() }}) as att_pct_ci_low,
        cast(null as {{ type_double() }}) as att_pct_ci_high,
        case when t_crit is not null then theta - band_crit * theta_se end as band_low,
        case when t_crit is not null then theta + band_crit * theta_se end as band_high,
        cast(null as {{ type_double() }}) as pretrend_p,
        share as engaged_share
    from event_rows
)

select
    cast(f.geography_level as {{ dbt.type_string() }}) as geography_level,
    cast(f.geography_code as {{ dbt.type_string() }}) as geography_code,
    cast(n.geography_name as {{ dbt.type_string() }}) as geography_name,
    cast(n.region_code as {{ dbt.type_string() }}) as region_code,
    cast(f.cohort_fy as {{ dbt.type_string() }}) as cohort_fy,
    cast(f.population as {{ dbt.type_string() }}) as population,
    cast(f.measure as {{ dbt.type_string() }}) as measure,
    cast(f.estimate as {{ dbt.type_string() }}) as estimate,
    f.event_month,
    cast(f.n_treated as {{ dbt.type_bigint() }}) as n_treated,
    cast(f.n_unmatched as {{ dbt.type_bigint() }}) as n_unmatched,
    cast(c.n_control_patients as {{ dbt.type_bigint() }}) as n_control_patients,
    cast(f.n_clusters as {{ dbt.type_bigint() }}) as n_clusters,
    cast(f.treated_base_mean as {{ type_double() }}) as treated_base_mean,
    cast(f.att as {{ type_double() }}) as att,
    cast(f.att_se as {{ type_double() }}) as att_se,
    cast(f.att_ci_low as {{ type_double() }}) as att_ci_low,
    cast(f.att_ci_high as {{ type_double() }}) as att_ci_high,
    cast(f.att_pct as {{ type_double() }}) as att_pct,
    cast(f.att_pct_ci_low as {{ type_double() }}) as att_pct_ci_low,
    cast(f.att_pct_ci_high as {{ type_double() }}) as att_pct_ci_high,
    cast(f.band_low as {{ type_double() }}) as band_low,
    cast(f.band_high as {{ type_double() }}) as band_high,
    cast(f.pretrend_p as {{ type_double() }}) as pretrend_p,
    cast(f.engaged_share as {{ type_double() }}) as engaged_share
from final as f
left join names as n on f.geography_level = n.geography_level and f.geography_code = n.geography_code
left join {{ ref('int_sdid_control_patients') }} as c
    on
        f.geography_level = c.geography_level
        and f.geography_code = c.geography_code
        and f.cohort_fy = c.cohort_fy
