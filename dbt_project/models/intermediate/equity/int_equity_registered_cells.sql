-- The registered side of the equity mart (methods §8) aggregated to PCN x dimension values per
-- cohort year ('all' included): the one pass over every person-year (millions of rows).
-- Incremental, all or nothing: it depends only on the register, the practices and the list of cohort
-- years (a new year changes which year is a person's latest), so a build after the first recomputes
-- every year when one of those changed since, and nothing otherwise.
-- depends_on: {{ ref('int_raw_state') }}
{{ config(
    materialized='incremental',
    unique_key='cohort_fy',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook=["{{ prefer_hash_aggregation() }}", "{{ forget_if_raw_drifted(this, register_inputs()) }}"],
    post_hook="{{ forget_older_builds(this) }}",
) }}

with cohort_years as (
    select {{ dbt.listagg('cohort_fy', "','", 'order by cohort_fy') }} as cohort_years
    from (
        select distinct cohort_fy from {{ ref('int_index_referrals') }}
        where cohort_fy is not null
    ) as y
),

state as (
    {{ input_state(register_inputs()) }}
),

people as (
    select * from {{ ref('int_equity_people') }}
    where
        role = 'registered'
        {%- if is_incremental() %}
            and (
                (select s.loaded_through from state as s) > {{ loaded_since(this, register_inputs()) }}
                or (select c.cohort_years from cohort_years as c)
                != (select max(t.cohort_years) from {{ this }} as t)
            )
        {%- endif %}
)

select
    p.cohort_fy,
    p.pcn_code,
    max(p.pcn_name) as pcn_name,
    p.sub_icb_code,
    max(p.sub_icb_name) as sub_icb_name,
    p.icb_code,
    max(p.icb_name) as icb_name,
    p.region_code,
    max(p.region_name) as region_name,
    p.imd_quintile,
    p.age_band,
    p.sex,
    p.ethnic_group,
    count(*) as registered_population,
    max(c.cohort_years) as cohort_years,
    max(s.loaded_through) as loaded_through,
    max(s.raw_drift) as raw_drift,
    {{ run_marker() }} as built_at
from people as p
cross join cohort_years as c
cross join state as s
group by
    p.cohort_fy, p.pcn_code, p.sub_icb_code, p.icb_code, p.region_code, p.imd_quintile, p.age_band, p.sex,
    p.ethnic_group
