-- First stage of matching (methods §4): for each eligible index patient and window, the
-- var match_candidate_pool ring members that follow the index patient on its hash ring, kept when
-- they can reach its bands, are eligible as if indexed at t and are in its sub-ICB on day t.
-- Bands are checked exactly in int_match_pool_checked.
{%- set pool_size = match_pool_size() %}

with index_rows as {{ materialized_cte() }} (
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
),

positions as {{ materialized_cte() }} (
    select
        i.*,
        o.ring_distance,
        mod(i.ring_rank - 1 + o.ring_distance, i.ring_size) + 1 as target_rank
    from index_rows as i
    inner join {{ ref('int_match_offsets') }} as o
        on
            o.ring_distance <= {{ pool_size }}
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
)

{{ eligible_ring_pairs('ring_candidates') }}
