-- Second stage of matching: index patients with fewer than k band-matching controls in their pool
-- have the following ring positions checked too, up to var match_candidate_limit positions in all
-- (the whole ring when it is smaller). The k chosen are always the nearest matching candidates
-- within that reach; the pool size never changes the result.
{%- set pool_size = match_pool_size() %}

with pool_matches as (
    select
        index_key,
        window_months,
        sum(case when is_band_match then 1 else 0 end) as n_matches
    from {{ ref('int_match_pool_checked') }}
    group by index_key, window_months
),

index_rows as (
    select
        i.*,
        r.ring_rank,
        r.ring_size
    from {{ ref('int_match_index') }} as i
    inner join {{ ref('int_match_ring') }} as r
        on
            i.index_key = r.patient_key
            and i.sub_icb_code = r.sub_icb_code
            and i.sex = r.sex
            and i.imd_quintile = r.imd_quintile
            and i.index_year = r.index_year
            and i.age_band = r.age_band
    left join pool_matches as m
        on
            i.index_key = m.index_key
            and i.window_months = m.window_months
    where
        r.ring_size - 1 > {{ pool_size }}
        and coalesce(m.n_matches, 0) < {{ var('controls_per_case') }}
),

positions as {{ materialized_cte() }} (
    select
        i.*,
        o.ring_distance,
        mod(i.ring_rank - 1 + o.ring_distance, i.ring_size) + 1 as target_rank
    from index_rows as i
    inner join {{ ref('int_match_offsets') }} as o
        on
            o.ring_distance > {{ pool_size }}
            and i.ring_size > o.ring_distance
),

ring_candidates as (
    select
        i.index_key,
        i.window_months,
        i.index_date,
        i.pre_start,
        i.post_end,
        i.sub_icb_code,
        i.ring_size,
        i.gp_appointments_band,
        i.emergency_admissions_band,
        i.ae_attendances_band,
        i.ring_distance,
        r.patient_key as control_key
    from positions as i
    inner join {{ ref('int_match_ring') }} as r
        on
            i.sub_icb_code = r.sub_icb_code
            and i.sex = r.sex
            and i.imd_quintile = r.imd_quintile
            and i.index_year = r.index_year
            and i.age_band = r.age_band
            and i.target_rank = r.ring_rank
    where {{ could_match_bands('r', 'i') }}
),

rest as (
    {{ eligible_ring_pairs('ring_candidates') }}
)

{{ verify_candidate_bands('rest') }}
