-- Every candidate control examined (pool and extended stages) with its pre-window counts and band check.
select * from {{ ref('int_match_pool_checked') }}
union all
select * from {{ ref('int_match_extended') }}
