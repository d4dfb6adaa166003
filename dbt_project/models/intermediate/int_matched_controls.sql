-- Up to k = var controls_per_case controls per index patient and window: the matching candidates
-- nearest after the index patient on its md5 ring (methods §4). A control may serve several index patients.
-- Incremental (macros/incremental.sql): a build after the first recomputes the index rows int_match_todo
-- invalidated since.
{{ config(
    materialized='incremental',
    unique_key=['index_key', 'window_months'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['todo_through']}],
    post_hook="{{ forget_stale_index_rows(this) }}",
) }}

with {{ todo_rows(this) }},

candidates as (
    select c.*
    from {{ ref('int_match_candidates') }} as c
    inner join todo as d
        on
            c.index_key = d.index_key
            and c.window_months = d.window_months
),

chosen as (
    select
        index_key,
        window_months,
        control_key,
        hash_rank,
        row_number() over (partition by index_key, window_months order by hash_rank) as control_seq
    from candidates
)

select
    c.index_key,
    c.window_months,
    c.control_key,
    c.control_seq,
    c.hash_rank,
    i.index_date,
    i.pre_start,
    i.post_end,
    {{ todo_through() }} as todo_through
from chosen as c
inner join {{ ref('int_match_index') }} as i
    on
        c.index_key = i.index_key
        and c.window_months = i.window_months
where c.control_seq <= {{ var('controls_per_case') }}
