-- Second stage of matching (methods §4): index rows with fewer than k passing candidates among the
-- first var match_candidate_pool places have the rest of their ring searched, all of it, so the k
-- chosen are the nearest passing candidates of the whole ring whatever the pool size.
-- The search is cut down without losing anyone: a member is paired only when its upper-bound bands
-- for the year (int_match_ring) reach the index patient's bands, since a count in any pre-window of
-- the year can be no higher than that bound. The rules are then checked pair by pair.
{{ config(pre_hook="{{ avoid_nested_loops() }}") }}
{%- set pool_size = match_pool_size() %}

with pool_matches as (
    select
        index_key,
        window_months,
        count(*) as n_matches
    from {{ ref('int_match_pool') }}
    group by index_key, window_months
),

ring as {{ inlined_cte() }} (
    select * from {{ ref('int_match_ring') }}
),

practice_periods as (
    select * from {{ ref('int_practice_periods') }}
),

short_index_rows as (
    select i.*
    from {{ ref('int_match_index') }} as i
    left join pool_matches as m
        on
            i.index_key = m.index_key
            and i.window_months = m.window_months
    where coalesce(m.n_matches, 0) < {{ controls_per_case() }}
),

positioned as (
    -- each index row at its index patient's own place on its ring
    select
        i.*,
        r.ring_rank,
        r.ring_size
    from short_index_rows as i
    inner join ring as r
        on
            i.index_key = r.patient_key
            and {{ same_stratum('i', 'r') }}
),

band_ranks as (
    select n from (values (0), (1), (2), (3), (4)) as v (n)
),

signatures as (
    -- every combination of upper-bound band ranks a ring member can carry
    select
        gp.n as ub_gp_appointments_rank,
        em.n as ub_emergency_admissions_rank,
        ae.n as ub_ae_attendances_rank
    from band_ranks as gp
    cross join band_ranks as em
    cross join band_ranks as ae
    where em.n <= 2 and ae.n <= 2
),

reachable as {{ materialized_cte() }} (
    -- index rows beyond the pool, once for each member signature that can reach their bands
    select
        p.*,
        s.ub_gp_appointments_rank,
        s.ub_emergency_admissions_rank,
        s.ub_ae_attendances_rank
    from positioned as p
    inner join signatures as s
        on
            p.gp_appointments_rank <= s.ub_gp_appointments_rank
            and p.emergency_admissions_rank <= s.ub_emergency_admissions_rank
            and p.ae_attendances_rank <= s.ub_ae_attendances_rank
    where p.ring_size > {{ pool_size + 1 }}
),

distanced as (
    select
        i.index_key,
        i.window_months,
        i.index_date,
        i.pre_start,
        i.post_end,
        i.sub_icb_code,
        i.gp_appointments_band,
        i.emergency_admissions_band,
        i.ae_attendances_band,
        r.patient_key,
        r.practice_code,
        r.registration_start_date,
        r.registration_end_date,
        r.date_of_death,
        r.first_referral_date,
        r.gp_appointment_dates,
        r.emergency_admission_dates,
        r.ae_attendance_dates,
        mod(r.ring_rank - i.ring_rank + i.ring_size, i.ring_size) as hash_distance
    from reachable as i
    inner join ring as r
        on
            {{ same_stratum('i', 'r') }}
            and i.ub_gp_appointments_rank = r.ub_gp_appointments_rank
            and i.ub_emergency_admissions_rank = r.ub_emergency_admissions_rank
            and i.ub_ae_attendances_rank = r.ub_ae_attendances_rank
),

passing as {{ materialized_cte() }} (
    -- the pair rules first, then the practice periods (as int_match_pool)
    select
        d.index_key,
        d.window_months,
        d.index_date,
        d.sub_icb_code,
        d.patient_key as control_key,
        d.practice_code as control_practice_code,
        d.first_referral_date as control_first_referral_date,
        d.hash_distance
    from distanced as d
    where
        d.hash_distance > {{ pool_size }}
        and {{ candidate_passes('d', 'd') }}
)

select
    p.index_key,
    p.window_months,
    p.control_key,
    p.control_practice_code,
    p.control_first_referral_date,
    p.hash_distance
from passing as p
inner join practice_periods as g
    on {{ practice_in_sub_icb_on('g', 'p.control_practice_code', 'p.index_date', 'p.sub_icb_code') }}
