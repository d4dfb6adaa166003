-- Pool candidates with their exact pre-window counts and whether their bands equal the index
-- patient's.
with pool as (
    select * from {{ ref('int_match_pool') }}
)

{{ verify_candidate_bands('pool') }}
