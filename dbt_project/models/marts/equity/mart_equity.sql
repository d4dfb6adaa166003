-- Equity (methods §8) per geography level, cohort financial year ('all' included), dimension (IMD
-- quintile, age band, sex, ethnic group, and 'all') and value, unsuppressed: registered population,
-- people referred, rate per 1,000, engaged share, and outcomes of the engaged and referred alike
-- (GP appointments before/after over the equity outcome window; SWEMWBS change of the index referral).
{{ config(pre_hook=prefer_hash_aggregation()) }}

with people as (
    -- the referred side (a few rows per index patient); the registered side is int_equity_registered_cells
    select * from {{ ref('int_equity_people') }}
    where role = 'referred'
),

-- Aggregate people first (to PCN x dimension values) so that the copies made per dimension and per
-- geography level stay small whatever the population. Grouped by codes only, names carried as
-- max(): the summary below takes the max name per code anyway.
referred as (
    select
        cohort_fy,
        pcn_code,
        max(pcn_name) as pcn_name,
        sub_icb_code,
        max(sub_icb_name) as sub_icb_name,
        icb_code,
        max(icb_name) as icb_name,
        region_code,
        max(region_name) as region_name,
        imd_quintile,
        age_band,
        sex,
        ethnic_group,
        0 as registered_population,
        count(*) as referrals,
        sum(case when is_engaged then 1 else 0 end) as people_engaged,
        sum(case when has_outcome then 1 else 0 end) as outcome_n_patients,
        sum(case when has_outcome then pre_count else 0 end) as gp_pre_total,
        sum(case when has_outcome then post_count else 0 end) as gp_post_total,
        count(swemwbs_change) as swemwbs_n_paired,
        -- summed exactly (numeric), so the mean does not depend on the order rows are added in
        sum(cast(swemwbs_change as {{ dbt.type_numeric() }})) as swemwbs_change_sum
    from people
    group by
        cohort_fy, pcn_code, sub_icb_code, icb_code, region_code, imd_quintile, age_band, sex, ethnic_group
),

grouped as (
    select
        cohort_fy,
        pcn_code,
        pcn_name,
        sub_icb_code,
        sub_icb_name,
        icb_code,
        icb_name,
        region_code,
        region_name,
        imd_quintile,
        age_band,
        sex,
        ethnic_group,
        registered_population,
        0 as referrals,
        0 as people_engaged,
        0 as outcome_n_patients,
        0 as gp_pre_total,
        0 as gp_post_total,
        0 as swemwbs_n_paired,
        cast(null as {{ dbt.type_numeric() }}) as swemwbs_change_sum
    from {{ ref('int_equity_registered_cells') }}
    union all
    select * from referred
),

dimensioned as (
    {%- for dim in ['all', 'imd_quintile', 'age_band', 'sex', 'ethnic_group'] %}
        select
            *,
            '{{ dim }}' as dimension,
            {{ "'all'" if dim == 'all' else dim }} as dimension_value
        from grouped
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

long_form as (
    {%- for l in reporting_levels() %}
        select
            {{ geography_level_columns(l) }},
            cohort_fy,
            dimension,
            dimension_value,
            registered_population,
            referrals,
            people_engaged,
            outcome_n_patients,
            gp_pre_total,
            gp_post_total,
            swemwbs_n_paired,
            swemwbs_change_sum
        from dimensioned
        {%- if l.level != 'england' %}
            where {{ l.code }} is not null
        {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

summary as (
    select
        geography_level,
        geography_code,
        max(geography_name) as geography_name,
        max(region_code) as region_code,
        cohort_fy,
        dimension,
        dimension_value as value,
        sum(registered_population) as registered_population,
        sum(referrals) as referrals,
        sum(people_engaged) as people_engaged,
        sum(outcome_n_patients) as outcome_n_patients,
        sum(gp_pre_total) as gp_pre_total,
        sum(gp_post_total) as gp_post_total,
        sum(swemwbs_n_paired) as swemwbs_n_paired,
        {{ ratio('sum(swemwbs_change_sum)', 'nullif(sum(swemwbs_n_paired), 0)') }} as swemwbs_mean_change
    from long_form
    group by geography_level, geography_code, cohort_fy, dimension, dimension_value
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    cohort_fy,
    dimension,
    value,
    cast(registered_population as bigint) as registered_population,
    cast(referrals as bigint) as referrals,
    cast(1000.0 * referrals / nullif(registered_population, 0) as {{ type_double() }})
        as referrals_per_1000,
    cast(people_engaged as bigint) as people_engaged,
    cast(100.0 * people_engaged / nullif(referrals, 0) as {{ type_double() }}) as engaged_pct,
    {{ var('equity_outcome_window_months', 12) }} as outcome_window_months,
    cast(outcome_n_patients as bigint) as outcome_n_patients,
    cast(gp_pre_total as bigint) as gp_pre_total,
    cast(gp_post_total as bigint) as gp_post_total,
    cast(100.0 * (gp_post_total - gp_pre_total) / nullif(gp_pre_total, 0) as {{ type_double() }})
        as gp_pct_change,
    cast(swemwbs_n_paired as bigint) as swemwbs_n_paired,
    cast(swemwbs_mean_change as {{ type_double() }}) as swemwbs_mean_change
from summary
