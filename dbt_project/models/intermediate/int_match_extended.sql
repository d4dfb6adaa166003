-- Second stage of matching (methods §4): index patients with fewer than k valid candidates among the
-- first var match_candidate_pool places have the rest of their ring searched, all of it, so the k
-- chosen are the nearest valid candidates of the whole ring whatever the pool size.
-- The search is cut down without losing anyone: a member is paired only when its upper-bound bands
-- for the year (int_match_ring) reach the index patient's bands, since a count in any pre-window of
-- the year can be no higher than that bound. The exact rules are then checked pair by pair.
-- Incremental (macros/incremental.sql): a build after the first recomputes the index rows int_match_todo
-- invalidated since.
{{ config(
    materialized='incremental',
    unique_key=['index_key', 'window_months'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['todo_through']}],
    pre_hook="{{ avoid_nested_loops() }}",
    post_hook="{{ forget_stale_index_rows(this) }}",
) }}
{%- set pool_size = match_pool_size() %}

with {{ todo_rows(this) }},

pool_matches as (
    select
        p.index_key,
        p.window_months,
        count(*) as n_matches
    from {{ ref('int_match_pool') }} as p
    inner join todo as d
        on
            p.index_key = d.index_key
            and p.window_months = d.window_months
    group by p.index_key, p.window_months
),

index_rows as (
    select i.*
    from {{ ref('int_match_index') }} as i
    inner join todo as d
        on
            i.index_key = d.index_key
            and i.window_months = d.window_months
    left join pool_matches as m
        on
            i.index_key = m.index_key
            and i.window_months = m.window_months
    where coalesce(m.n_matches, 0) < {{ var('controls_per_case') }}
),

{{ ring_positioned('index_rows') }},

{{ first_referrals() }},

signatures as (
    -- every combination of upper-bound band ranks a ring member can carry
    select
        gp.n as ub_gp_appointments_rank,
        em.n as ub_emergency_admissions_rank,
        ae.n as ub_ae_attendances_rank
    from {{ integers_below(5) }} as gp
    cross join {{ integers_below(3) }} as em
    cross join {{ integers_below(3) }} as ae
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
        i.*,
        r.patient_key,
        r.practice_code,
        r.registration_start_date,
        r.registration_end_date,
        r.date_of_death,
        r.has_practice_change,
        r.practice_valid_from,
        r.practice_valid_to,
        r.gp_appointment_dates,
        r.emergency_admission_dates,
        r.ae_attendance_dates,
        mod(r.ring_rank - i.ring_rank + i.ring_size, i.ring_size) as ring_distance
    from reachable as i
    inner join {{ ref('int_match_ring') }} as r
        on
            {{ same_stratum('i', 'r') }}
            and i.ub_gp_appointments_rank = r.ub_gp_appointments_rank
            and i.ub_emergency_admissions_rank = r.ub_emergency_admissions_rank
            and i.ub_ae_attendances_rank = r.ub_ae_attendances_rank
),

passing as (
    select {{ passing_pair_columns('d', 'd', 'd.ring_distance') }}
    from distanced as d
    left join first_referrals as f on d.patient_key = f.patient_key
    where
        d.ring_distance > {{ pool_size }}
        and {{ candidate_passes('d', 'd', 'f') }}
)

{{ ring_pairs_on_day_t('passing', todo_through()) }}
