-- First stage of matching (methods §4): for each eligible index patient and window, the candidates
-- of its demographic stratum (see candidate_pairs) with the lowest pair hashes, at most
-- var match_candidate_pool of them. Bands are checked in int_match_pool_checked.
with index_rows as (
    select * from {{ ref('int_match_index') }}
),

ranked as (
    {{ ranked_candidate_pairs('index_rows') }}
)

select * from ranked
where hash_rank <= {{ var('match_candidate_pool', 50) }}
