-- Bootstrap multipliers (methods §4c): one row per practice and draw b = 1 .. 999, +1 or -1 from
-- md5(practice_code || b), so every build draws the same. A table, so each md5 is computed once.
with digits as (
    {%- for d in range(10) %}
        select {{ d }} as d{{ ' union all' if not loop.last }}
    {%- endfor %}
),

draws as (
    select a.d * 100 + b.d * 10 + c.d as draw
    from digits as a
    cross join digits as b
    cross join digits as c
    where a.d * 100 + b.d * 10 + c.d between 1 and 999
),

practices as (
    select distinct practice_code from {{ ref('int_sdid_cell_practices') }}
)

select
    p.practice_code,
    d.draw,
    cast({{ sdid_multiplier('p.practice_code', 'd.draw') }} as {{ type_double() }}) as multiplier
from practices as p
cross join draws as d
