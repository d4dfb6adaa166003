-- Second stage of matching: index patients with fewer than k band-matching controls in their pool
-- while their stratum holds more candidates than the pool have the rest of the stratum checked, so
-- the k chosen are the lowest-hash matching candidates of the whole stratum.
with short_of_controls as (
    select
        index_key,
        window_months
    from {{ ref('int_match_pool_checked') }}
    group by index_key, window_months
    having
        sum(case when is_band_match then 1 else 0 end) < {{ var('controls_per_case') }}
        and max(n_candidates) > {{ var('match_candidate_pool', 50) }}
),

index_rows as (
    select i.*
    from {{ ref('int_match_index') }} as i
    inner join short_of_controls as s
        on
            i.index_key = s.index_key
            and i.window_months = s.window_months
),

rest as (
    select * from (
        {{ ranked_candidate_pairs('index_rows') }}
    ) as ranked
    where hash_rank > {{ var('match_candidate_pool', 50) }}
)

{{ verify_candidate_bands('rest') }}
