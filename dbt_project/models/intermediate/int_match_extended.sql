-- Second stage of matching: index patients with fewer than k band-matching controls among their
-- pool while their ring holds more members than the pool have the rest of the ring checked, so the
-- k chosen are always the nearest matching candidates on the whole ring.
{%- set pool_size = var('match_candidate_pool', 50) %}

with short_of_controls as (
    select
        index_key,
        window_months
    from {{ ref('int_match_pool_checked') }}
    group by index_key, window_months
    having sum(case when is_band_match then 1 else 0 end) < {{ var('controls_per_case') }}
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
    left join short_of_controls as s
        on
            i.index_key = s.index_key
            and i.window_months = s.window_months
    -- index rows with no eligible pool member at all are short too
    where
        r.ring_size - 1 > {{ pool_size }}
        and (
            s.index_key is not null
            or not exists (
                select 1 from {{ ref('int_match_pool_checked') }} as c
                where c.index_key = i.index_key and c.window_months = i.window_months
            )
        )
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
        mod(r.ring_rank - i.ring_rank + i.ring_size, i.ring_size) as ring_distance,
        r.patient_key as control_key
    from index_rows as i
    inner join {{ ref('int_match_ring') }} as r
        on
            i.sub_icb_code = r.sub_icb_code
            and i.sex = r.sex
            and i.imd_quintile = r.imd_quintile
            and i.index_year = r.index_year
            and i.age_band = r.age_band
    where mod(r.ring_rank - i.ring_rank + i.ring_size, i.ring_size) > {{ pool_size }}
),

rest as (
    {{ eligible_ring_pairs('ring_candidates') }}
)

{{ verify_candidate_bands('rest') }}
