-- First stage of matching (methods §4): for each eligible index patient and window, the ring members
-- among the var match_candidate_pool places that follow it on its hash ring that pass every rule
-- (candidate_passes). When at least k pass, they include the k nearest passing candidates of the
-- whole ring; int_match_extended searches the rest of the ring for the index rows short of k.
{{ config(pre_hook=["{{ avoid_nested_loops() }}", "{{ avoid_merge_joins() }}"]) }}
{%- set pool_size = match_pool_size() %}

with index_rows as (
    select * from {{ ref('int_match_index') }}
),

ring as {{ inlined_cte() }} (
    select * from {{ ref('int_match_ring') }}
),

practice_periods as (
    select * from {{ ref('int_practice_periods') }}
),

digits as (
    select d from (values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) as v (d)
),

pool_offsets as (
    -- hash distances 1 .. var match_candidate_pool (at most 10,000)
    select d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 1 as hash_distance
    from digits as d1
    cross join digits as d2
    cross join digits as d3
    cross join digits as d4
    where d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 1 <= {{ pool_size }}
),

positioned as (
    -- each index row at its index patient's own place on its ring
    select
        i.*,
        r.ring_rank,
        r.ring_size
    from index_rows as i
    inner join ring as r
        on
            i.index_key = r.patient_key
            and {{ same_stratum('i', 'r') }}
),

pool_places as {{ materialized_cte() }} (
    select
        i.*,
        o.hash_distance,
        mod(i.ring_rank - 1 + o.hash_distance, i.ring_size) + 1 as place_rank
    from positioned as i
    inner join pool_offsets as o on i.ring_size > o.hash_distance
),

passing as {{ materialized_cte() }} (
    -- the pair rules first: joined to the practice periods before them, the planner pairs every
    -- period of the sub-ICB with every place
    select
        i.index_key,
        i.window_months,
        i.index_date,
        i.sub_icb_code,
        r.patient_key as control_key,
        r.practice_code as control_practice_code,
        r.first_referral_date as control_first_referral_date,
        i.hash_distance
    from pool_places as i
    inner join ring as r
        on
            {{ same_stratum('i', 'r') }}
            and i.place_rank = r.ring_rank
    where {{ candidate_passes('i', 'r') }}
)

select
    p.index_key,
    p.window_months,
    p.control_key,
    p.control_practice_code,
    p.control_first_referral_date,
    p.hash_distance
from passing as p
inner join practice_periods as g
    on {{ practice_in_sub_icb_on('g', 'p.control_practice_code', 'p.index_date', 'p.sub_icb_code') }}
