-- First stage of matching (methods §4): for each eligible index patient and window, the
-- var match_candidate_pool ring members that follow the index patient on its hash ring, kept when
-- they can reach its bands, are eligible as if indexed at t and are in its sub-ICB on day t.
-- Bands are checked exactly in int_match_pool_checked.
{%- set pool_size = match_pool_size() %}

with index_rows as (
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

offsets as (
    {{ ring_offsets(pool_size) }}
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
        o.ring_distance,
        r.patient_key as control_key
    from index_rows as i
    inner join offsets as o on i.ring_size > o.ring_distance
    inner join {{ ref('int_match_ring') }} as r
        on
            i.sub_icb_code = r.sub_icb_code
            and i.sex = r.sex
            and i.imd_quintile = r.imd_quintile
            and i.index_year = r.index_year
            and i.age_band = r.age_band
            and r.ring_rank = mod(i.ring_rank - 1 + o.ring_distance, i.ring_size) + 1
    where {{ could_match_bands('r', 'i') }}
)

{{ eligible_ring_pairs('ring_candidates') }}
