-- People behind the equity mart (methods §8), one row per person, cohort financial year ('all'
-- included) and role: 'registered' rows are the registered population of the year, 'referred' rows
-- the index patients of that cohort year (methods §1), with their engagement and outcomes.
with patients as (
    select * from {{ ref('stg_gp__patients') }}
),

practices as (
    select * from {{ ref('int_practice_geography') }}
),

index_referrals as (
    select * from {{ ref('int_index_referrals') }}
),

cohort_years as (
    select distinct
        cohort_fy,
        cast(substr(cohort_fy, 1, 4) as integer) as fy_start_year,
        cast(substr(cohort_fy, 1, 4) || '-04-01' as date) as fy_start,
        {{ add_months("cast(substr(cohort_fy, 1, 4) || '-04-01' as date)", 12) }} as fy_end
    from index_referrals
    where cohort_fy is not null
),

-- With the start of the next cohort year: a person's registered years are consecutive ones (the
-- conditions below only ever start or stop holding as years go by), so a year is the person's
-- latest exactly when they are not registered in the next one. This places each person once in
-- the 'all' rows without sorting everyone by patient key.
years as (
    select
        *,
        lead(fy_start) over (order by fy_start) as next_fy_start
    from cohort_years
),

-- The practice's place in the hierarchy at the end of each year (latest interval overlapping it):
-- one row per practice and year, so the population is placed by a plain join.
practice_years as (
    select
        g.practice_code,
        y.cohort_fy,
        g.pcn_code,
        g.pcn_name,
        g.sub_icb_code,
        g.sub_icb_name,
        g.icb_code,
        g.icb_name,
        g.region_code,
        g.region_name,
        row_number() over (partition by g.practice_code, y.cohort_fy order by g.valid_from desc) as rn
    from practices as g
    inner join years as y
        on
            g.valid_from < y.fy_end
            and g.valid_to > y.fy_start
),

-- Registered at any time in the year and alive at its start.
registered_geo as (
    select
        p.patient_key,
        p.year_of_birth,
        p.sex,
        p.ethnic_category,
        p.imd_decile,
        y.cohort_fy,
        y.fy_start_year - p.year_of_birth as age,
        g.pcn_code,
        g.pcn_name,
        g.sub_icb_code,
        g.sub_icb_name,
        g.icb_code,
        g.icb_name,
        g.region_code,
        g.region_name,
        coalesce(
            y.next_fy_start is null
            or p.registration_end_date < y.next_fy_start
            or p.date_of_death < y.next_fy_start,
            false
        ) as is_latest_year
    from patients as p
    inner join years as y
        on
            p.registration_start_date < y.fy_end
            and (p.registration_end_date is null or p.registration_end_date >= y.fy_start)
            and (p.date_of_death is null or p.date_of_death >= y.fy_start)
    left join practice_years as g
        on
            p.practice_code = g.practice_code
            and y.cohort_fy = g.cohort_fy
            and g.rn = 1
),

registered as (
    select
        patient_key,
        cohort_fy,
        'registered' as role,
        pcn_code,
        pcn_name,
        sub_icb_code,
        sub_icb_name,
        icb_code,
        icb_name,
        region_code,
        region_name,
        age,
        sex,
        ethnic_category,
        imd_decile,
        is_latest_year
    from registered_geo
),

outcomes as (
    select
        patient_key,
        pre_count,
        post_count
    from {{ ref('int_cohort_measures') }}
    where window_months = {{ var('equity_outcome_window_months', 12) }} and measure = 'gp_appointments'
),

swemwbs as (
    select
        referral_id,
        score_change
    from {{ ref('int_wellbeing_pairs') }}
    where instrument = 'SWEMWBS' and item = 'total' and is_paired
),

referred as (
    select
        i.patient_key,
        i.cohort_fy,
        'referred' as role,
        i.pcn_code,
        i.pcn_name,
        i.sub_icb_code,
        i.sub_icb_name,
        i.icb_code,
        i.icb_name,
        i.region_code,
        i.region_name,
        i.age_at_index as age,
        i.sex,
        p.ethnic_category,
        i.imd_decile,
        i.is_engaged,
        o.patient_key is not null as has_outcome,
        o.pre_count,
        o.post_count,
        s.score_change as swemwbs_change
    from index_referrals as i
    -- the staging view itself, not the patients CTE: a CTE read twice is materialised whole (every
    -- column of the register), and only ethnic_category is needed here
    left join {{ ref('stg_gp__patients') }} as p on i.patient_key = p.patient_key
    left join outcomes as o on i.patient_key = o.patient_key
    left join swemwbs as s on i.index_referral_id = s.referral_id
    where i.cohort_fy is not null
),

-- roles as literals in each branch, so a filter on role drops the other branches unread
people as (
    select
        patient_key,
        cohort_fy,
        'registered' as role,
        pcn_code,
        pcn_name,
        sub_icb_code,
        sub_icb_name,
        icb_code,
        icb_name,
        region_code,
        region_name,
        age,
        sex,
        ethnic_category,
        imd_decile,
        false as is_engaged,
        false as has_outcome,
        cast(null as integer) as pre_count,
        cast(null as integer) as post_count,
        cast(null as {{ type_double() }}) as swemwbs_change
    from registered
    union all
    select
        patient_key,
        'all' as cohort_fy,
        'registered' as role,
        pcn_code,
        pcn_name,
        sub_icb_code,
        sub_icb_name,
        icb_code,
        icb_name,
        region_code,
        region_name,
        age,
        sex,
        ethnic_category,
        imd_decile,
        false as is_engaged,
        false as has_outcome,
        cast(null as integer) as pre_count,
        cast(null as integer) as post_count,
        cast(null as {{ type_double() }}) as swemwbs_change
    from registered
    where is_latest_year
    union all
    select
        patient_key,
        cohort_fy,
        'referred' as role,
        pcn_code,
        pcn_name,
        sub_icb_code,
        sub_icb_name,
        icb_code,
        icb_name,
        region_code,
        region_name,
        age,
        sex,
        ethnic_category,
        imd_decile,
        is_engaged,
        has_outcome,
        pre_count,
        post_count,
        swemwbs_change
    from referred
    union all
    select
        patient_key,
        'all' as cohort_fy,
        'referred' as role,
        pcn_code,
        pcn_name,
        sub_icb_code,
        sub_icb_name,
        icb_code,
        icb_name,
        region_code,
        region_name,
        age,
        sex,
        ethnic_category,
        imd_decile,
        is_engaged,
        has_outcome,
        pre_count,
        post_count,
        swemwbs_change
    from referred
)

select
    patient_key,
    cohort_fy,
    role,
    pcn_code,
    pcn_name,
    sub_icb_code,
    sub_icb_name,
    icb_code,
    icb_name,
    region_code,
    region_name,
    {{ equity_imd_quintile('imd_decile') }} as imd_quintile,
    {{ equity_age_band('age') }} as age_band,
    {{ equity_sex('sex') }} as sex,
    {{ equity_ethnic_group('ethnic_category') }} as ethnic_group,
    is_engaged,
    has_outcome,
    pre_count,
    post_count,
    swemwbs_change
from people
