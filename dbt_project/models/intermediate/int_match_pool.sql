-- First stage of matching (methods §4): for each eligible index patient and window, the ring members
-- among the var match_candidate_pool places that follow it on its hash ring that pass every rule.
-- When at least k of them pass, they include the k nearest valid candidates of the whole ring.
-- Incremental (macros/incremental.sql): a build after the first recomputes the index rows int_match_todo
-- invalidated since. When they are few, their ring places are looked up through the ring's indexes
-- (avoid_nested_loops_unless_few_todo); a full build hashes the ring.
{{ config(
    materialized='incremental',
    unique_key=['index_key', 'window_months'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['todo_through']}],
    pre_hook="{{ avoid_nested_loops_unless_few_todo(this) }}",
    post_hook="{{ forget_stale_index_rows(this) }}",
) }}
with {{ todo_rows(this) }},

index_rows as (
    select i.*
    from {{ ref('int_match_index') }} as i
    inner join todo as d
        on
            i.index_key = d.index_key
            and i.window_months = d.window_months
),

{{ first_referrals() }},

{{ ring_positioned('index_rows') }},

positions as {{ materialized_cte() }} (
    select
        i.*,
        o.ring_distance,
        mod(i.ring_rank - 1 + o.ring_distance, i.ring_size) + 1 as target_rank
    from positioned as i
    inner join {{ ref('int_match_offsets') }} as o
        on
            i.ring_size > o.ring_distance
            and o.ring_distance <= {{ match_pool_size() }}
),

passing as (
    select {{ passing_pair_columns('i', 'r', 'i.ring_distance') }}
    from positions as i
    inner join {{ ref('int_match_ring') }} as r
        on
            {{ same_stratum('i', 'r') }}
            and i.target_rank = r.ring_rank
    left join first_referrals as f on r.patient_key = f.patient_key
    where {{ candidate_passes('i', 'r', 'f') }}
)

{{ ring_pairs_on_day_t('passing', todo_through()) }}
