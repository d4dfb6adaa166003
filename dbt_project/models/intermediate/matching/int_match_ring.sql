-- Hash rings for matching (methods §4). For each calendar year with index referrals, every patient who
-- could be a control for an index date in that year sits on the ring of their exact-match demographic
-- stratum (same_stratum): sub-ICB of a practice row valid during the year, sex, IMD quintile and the
-- 10-year age band in that year, ordered by md5(patient_key). A control's hash distance from an index
-- patient is how many places after the index patient it sits (circularly), so the nearest
-- candidates are found by position (an equi-join) instead of hashing every pair.
-- Each member carries what the pair rules read (registration, death, first referral, the validity of
-- its practice, the timelines of the three banded measures), so a candidate is checked in place,
-- and the band ranks of its counts over every day a pre-window of an index date in the year can
-- cover, [1 January - longest W months, 31 December): upper bounds that let int_match_extended skip
-- members who cannot reach an index patient's bands.
{{ config(pre_hook="{{ avoid_nested_loops() }}") }}
{%- set longest_window = cohort_window_months() | max %}

with years as (
    select distinct index_year from {{ ref('int_match_index') }}
),

patients as (
    select * from {{ ref('stg_gp__patients') }}
),

first_referrals as (
    -- a control must have no referral on or before t + W months
    select
        patient_key,
        min(referral_date) as first_referral_date
    from {{ ref('stg_case_management__referrals') }}
    where patient_key is not null and referral_date is not null
    group by patient_key
),

geography as (
    select * from {{ ref('int_practice_geography') }}
),

timelines as (
    select
        patient_key,
        gp_appointments_dates,
        emergency_admissions_dates,
        ae_attendances_dates
    from {{ ref('int_patient_timelines') }}
),

practice_years as (
    -- each sub-ICB a practice is in at some time in each index year (a small table); the matching
    -- models check the sub-ICB on day t itself (practice_in_sub_icb_on)
    select distinct
        g.practice_code,
        y.index_year,
        g.sub_icb_code
    from geography as g
    cross join years as y
    where
        g.valid_from <= {{ year_end('y.index_year') }}
        and g.valid_to > {{ year_start('y.index_year') }}
),

stratified as (
    -- prefilters only drop people who cannot be eligible for any index date in the year
    select
        y.sub_icb_code,
        p.sex,
        {{ imd_quintile('p.imd_decile') }} as imd_quintile,
        y.index_year,
        {{ age_band_10('y.index_year - p.year_of_birth') }} as age_band,
        p.patient_key,
        {{ ring_order_hash('p.patient_key') }} as key_hash,
        p.practice_code,
        p.registration_start_date,
        p.registration_end_date,
        p.date_of_death
    from patients as p
    inner join practice_years as y on p.practice_code = y.practice_code
    where
        p.registration_start_date <= {{ year_end('y.index_year') }}
        and (p.registration_end_date is null or p.registration_end_date >= {{ year_start('y.index_year') }})
        and (p.date_of_death is null or p.date_of_death > {{ year_start('y.index_year') }})
),

ranked as (
    -- ranks on narrow rows; the timelines are joined afterwards
    select
        s.*,
        row_number() over (
            partition by s.sub_icb_code, s.sex, s.imd_quintile, s.index_year, s.age_band
            order by s.key_hash, s.patient_key
        ) as ring_rank,
        count(*) over (
            partition by s.sub_icb_code, s.sex, s.imd_quintile, s.index_year, s.age_band
        ) as ring_size
    from stratified as s
)

select
    r.sub_icb_code,
    r.sex,
    r.imd_quintile,
    r.index_year,
    r.age_band,
    r.patient_key,
    r.practice_code,
    r.registration_start_date,
    r.registration_end_date,
    r.date_of_death,
    f.first_referral_date,
    r.ring_rank,
    r.ring_size,
    t.gp_appointments_dates as gp_appointment_dates,
    t.emergency_admissions_dates as emergency_admission_dates,
    t.ae_attendances_dates as ae_attendance_dates,
    {%- set year_from = add_months(year_start('r.index_year'), -1 * longest_window) %}
    {{ gp_appointments_band_rank(dates_between('t.gp_appointments_dates', year_from, year_end('r.index_year'))) }}
        as ub_gp_appointments_rank,
    {{ zero_one_two_band_rank(dates_between('t.emergency_admissions_dates', year_from, year_end('r.index_year'))) }}
        as ub_emergency_admissions_rank,
    {{ zero_one_two_band_rank(dates_between('t.ae_attendances_dates', year_from, year_end('r.index_year'))) }}
        as ub_ae_attendances_rank
from ranked as r
left join timelines as t on r.patient_key = t.patient_key
left join first_referrals as f on r.patient_key = f.patient_key
