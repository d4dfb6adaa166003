-- Up to k = var controls_per_case controls per index patient and window: the passing candidates
-- nearest after the index patient on its md5 ring (methods §4). A control may serve several index
-- patients.
with candidates as (
    select
        index_key,
        window_months,
        control_key,
        control_practice_code,
        control_first_referral_date,
        hash_distance,
        row_number() over (partition by index_key, window_months order by hash_distance) as control_seq
    from {{ ref('int_match_candidates') }}
),

index_rows as (
    select * from {{ ref('int_match_index') }}
)

select
    c.index_key,
    c.window_months,
    c.control_key,
    c.control_seq,
    c.hash_distance,
    c.control_practice_code,
    c.control_first_referral_date,
    i.index_date,
    i.pre_start,
    i.post_end
from candidates as c
inner join index_rows as i
    on
        c.index_key = i.index_key
        and c.window_months = i.window_months
where c.control_seq <= {{ controls_per_case() }}
