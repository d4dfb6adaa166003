-- One row per practice and period during which one sub-ICB holds it: the sub-ICB of the practices
-- row valid on a day, the latest valid_from winning where rows overlap (as int_index_referrals).
-- Periods of a practice never overlap, so "the practice's sub-ICB on day t" is one join.
with practice_rows as (
    select * from {{ ref('int_practice_geography') }}
),

boundaries as (
    select
        practice_code,
        valid_from as boundary
    from practice_rows
    union
    select
        practice_code,
        valid_to as boundary
    from practice_rows
),

pieces as (
    -- the stretches between consecutive boundaries: no row starts or ends inside one
    select
        practice_code,
        boundary as period_from,
        lead(boundary) over (partition by practice_code order by boundary) as period_to
    from boundaries
),

covering as (
    select
        p.practice_code,
        p.period_from,
        p.period_to,
        r.sub_icb_code,
        rank() over (partition by p.practice_code, p.period_from order by r.valid_from desc) as recency
    from pieces as p
    inner join practice_rows as r
        on
            p.practice_code = r.practice_code
            and p.period_from >= r.valid_from
            and p.period_to <= r.valid_to
)

select distinct
    practice_code,
    sub_icb_code,
    period_from,
    period_to
from covering
where recency = 1
