-- Cohort attrition per geography, cohort year and window (methods §1): every index patient counted
-- once, under the first exclusion rule it fails (incomplete follow-up, not registered throughout,
-- died), so referred = excluded + eligible.
with windows as (
    select * from {{ ref('int_cohort_windows') }}
),

names as (
    select * from {{ ref('int_geography_names') }}
),

by_geography as (
    select
        *,
        'england' as geography_level,
        'ENG' as geography_code
    from windows
    {%- for level in ['region', 'icb', 'sub_icb', 'pcn'] %}
        union all
        select
            *,
            '{{ level }}' as geography_level,
            {{ level }}_code as geography_code
        from windows
        where {{ level }}_code is not null
    {%- endfor %}
),

by_cohort as (
    select
        *,
        cohort_fy as cohort_fy_group
    from by_geography
    union all
    select
        *,
        'all' as cohort_fy_group
    from by_geography
)

select
    cast(b.geography_level as {{ dbt.type_string() }}) as geography_level,
    cast(b.geography_code as {{ dbt.type_string() }}) as geography_code,
    cast(n.geography_name as {{ dbt.type_string() }}) as geography_name,
    cast(n.region_code as {{ dbt.type_string() }}) as region_code,
    cast(b.cohort_fy_group as {{ dbt.type_string() }}) as cohort_fy,
    cast(b.window_months as integer) as window_months,
    cast(count(*) as {{ dbt.type_bigint() }}) as referred,
    cast(
        sum(case when b.exclusion_reason = 'incomplete_follow_up' then 1 else 0 end)
        as {{ dbt.type_bigint() }}
    ) as excluded_incomplete_follow_up,
    cast(
        sum(case when b.exclusion_reason = 'not_registered_throughout' then 1 else 0 end)
        as {{ dbt.type_bigint() }}
    ) as excluded_not_registered_throughout,
    cast(
        sum(case when b.exclusion_reason = 'died' then 1 else 0 end)
        as {{ dbt.type_bigint() }}
    ) as excluded_died,
    cast(sum(case when b.is_eligible then 1 else 0 end) as {{ dbt.type_bigint() }}) as eligible,
    cast(sum(case when b.is_eligible and b.is_engaged then 1 else 0 end) as {{ dbt.type_bigint() }}) as engaged
from by_cohort as b
inner join names as n
    on
        b.geography_level = n.geography_level
        and b.geography_code = n.geography_code
group by b.geography_level, b.geography_code, n.geography_name, n.region_code, b.cohort_fy_group, b.window_months
