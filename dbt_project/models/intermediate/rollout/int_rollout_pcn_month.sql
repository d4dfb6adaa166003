-- One row per PCN and month that the rollout marts report: every month from the first to the last
-- month with a referral or a workforce return, for every PCN that has a practice valid
-- in that month or activity in it. Registered population = sum of list_size of the PCN's practices
-- valid in the month (methods §6); geography = the PCN's place in the ODS hierarchy that month.
with practices as (
    select * from {{ ref('int_practice_geography') }}
),

workforce as (
    select * from {{ ref('stg_workforce__link_worker_workforce') }}
),

referrals as (
    select * from {{ ref('int_referrals_attributed') }}
),

activity_months as (
    select referral_month as month from referrals
    union all
    select cast({{ dbt.date_trunc('month', 'month') }} as date) from workforce
),

bounds as (
    select
        min(month) as first_month,
        max(month) as last_month
    from activity_months
),

months as (
    select cast(s.month_start as date) as month
    from bounds as b
    cross join lateral {{ month_series('b.first_month', 'b.last_month') }} as s (month_start)
),

-- A practice counts in a month when one of its intervals overlaps the month; when several do (a
-- change during the month) the interval in force at the end of the month wins, so no practice is
-- counted twice.
practice_month as (
    select
        m.month,
        p.practice_code,
        p.pcn_code,
        p.pcn_name,
        p.sub_icb_code,
        p.sub_icb_name,
        p.icb_code,
        p.icb_name,
        p.region_code,
        p.region_name,
        p.list_size,
        row_number() over (partition by m.month, p.practice_code order by p.valid_from desc) as rn
    from months as m
    inner join practices as p
        on
            m.month < p.valid_to
            and {{ add_months('m.month', 1) }} > p.valid_from
),

pcn_population as (
    select
        pcn_code,
        month,
        count(*) as practice_count,
        sum(coalesce(list_size, 0)) as registered_population
    from practice_month
    where rn = 1
    group by pcn_code, month
),

-- A PCN's practices normally share one sub-ICB; if not, the hierarchy carrying most patients wins.
pcn_geography_ranked as (
    select
        pcn_code,
        month,
        pcn_name,
        sub_icb_code,
        sub_icb_name,
        icb_code,
        icb_name,
        region_code,
        region_name,
        row_number() over (
            partition by pcn_code, month
            order by
                sum(coalesce(list_size, 0)) desc, sub_icb_code asc, icb_code asc, region_code asc, pcn_name asc
        ) as rn
    from practice_month
    where rn = 1
    group by pcn_code, month, pcn_name, sub_icb_code, sub_icb_name, icb_code, icb_name, region_code, region_name
),

-- For a PCN with activity but no practice valid that month: its latest known place in the hierarchy.
pcn_latest_geography as (
    select
        pcn_code,
        pcn_name,
        sub_icb_code,
        sub_icb_name,
        icb_code,
        icb_name,
        region_code,
        region_name,
        row_number() over (partition by pcn_code order by valid_from desc, list_size desc, practice_code asc) as rn
    from practices
),

pcn_months as (
    select
        pcn_code,
        month
    from pcn_population
    union
    select
        pcn_code,
        cast({{ dbt.date_trunc('month', 'month') }} as date)
    from workforce
    union
    select
        pcn_code,
        referral_month
    from referrals
    where pcn_code is not null
)

select
    pm.pcn_code,
    pm.month,
    {{ financial_year('pm.month') }} as financial_year,
    coalesce(g.pcn_name, lg.pcn_name) as pcn_name,
    coalesce(g.sub_icb_code, lg.sub_icb_code) as sub_icb_code,
    coalesce(g.sub_icb_name, lg.sub_icb_name) as sub_icb_name,
    coalesce(g.icb_code, lg.icb_code) as icb_code,
    coalesce(g.icb_name, lg.icb_name) as icb_name,
    coalesce(g.region_code, lg.region_code) as region_code,
    coalesce(g.region_name, lg.region_name) as region_name,
    g.pcn_code is not null as has_valid_practice,
    coalesce(pp.practice_count, 0) as practice_count,
    coalesce(pp.registered_population, 0) as registered_population
from pcn_months as pm
inner join months as m on pm.month = m.month
left join pcn_population as pp on pm.pcn_code = pp.pcn_code and pm.month = pp.month
left join pcn_geography_ranked as g on pm.pcn_code = g.pcn_code and pm.month = g.month and g.rn = 1
left join pcn_latest_geography as lg on pm.pcn_code = lg.pcn_code and lg.rn = 1
