-- Candidate controls examined for each eligible index patient and window (methods §4).
-- Cost is bounded per index patient: candidates of the demographic stratum are ranked by the pair
-- hash and only the first `match_candidate_pool` are checked against the exact pre-window bands; an
-- index patient with fewer than k matching among them has the rest of its stratum checked too, so
-- the chosen controls are always the k lowest-hash candidates satisfying every rule.
{%- set k = var('controls_per_case') %}
{%- set pool_size = var('match_candidate_pool', 50) %}

with index_rows as (
    select * from {{ ref('int_match_index') }}
),

all_pairs as (
    {{ candidate_pairs('index_rows') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by index_key, window_months order by pair_hash, control_key
        ) as hash_rank,
        count(*) over (partition by index_key, window_months) as n_candidates
    from all_pairs
),

pool as (
    select * from ranked where hash_rank <= {{ pool_size }}
),

pool_counts as (
    {{ verify_candidate_bands('pool') }}
),

pool_checked as (
    select
        p.index_key,
        p.window_months,
        p.control_key,
        p.hash_rank,
        p.n_candidates,
        v.pre_gp_appointments,
        v.pre_emergency_admissions,
        v.pre_ae_attendances,
        (
            {{ gp_appointments_band('v.pre_gp_appointments') }} = p.gp_appointments_band
            and {{ zero_one_two_band('v.pre_emergency_admissions') }} = p.emergency_admissions_band
            and {{ zero_one_two_band('v.pre_ae_attendances') }} = p.ae_attendances_band
        ) as is_band_match
    from pool as p
    inner join pool_counts as v
        on
            p.index_key = v.index_key
            and p.window_months = v.window_months
            and p.control_key = v.control_key
),

short_of_controls as (
    select
        index_key,
        window_months
    from pool_checked
    group by index_key, window_months
    having
        sum(case when is_band_match then 1 else 0 end) < {{ k }}
        and max(n_candidates) > {{ pool_size }}
),

rest as (
    select r.*
    from ranked as r
    inner join short_of_controls as s
        on
            r.index_key = s.index_key
            and r.window_months = s.window_months
    where r.hash_rank > {{ pool_size }}
),

rest_counts as (
    {{ verify_candidate_bands('rest') }}
),

rest_checked as (
    select
        r.index_key,
        r.window_months,
        r.control_key,
        r.hash_rank,
        r.n_candidates,
        v.pre_gp_appointments,
        v.pre_emergency_admissions,
        v.pre_ae_attendances,
        (
            {{ gp_appointments_band('v.pre_gp_appointments') }} = r.gp_appointments_band
            and {{ zero_one_two_band('v.pre_emergency_admissions') }} = r.emergency_admissions_band
            and {{ zero_one_two_band('v.pre_ae_attendances') }} = r.ae_attendances_band
        ) as is_band_match
    from rest as r
    inner join rest_counts as v
        on
            r.index_key = v.index_key
            and r.window_months = v.window_months
            and r.control_key = v.control_key
)

select * from pool_checked
union all
select * from rest_checked
