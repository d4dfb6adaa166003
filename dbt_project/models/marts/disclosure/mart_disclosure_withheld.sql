-- Which counts the published layer withholds (docs/methods.md §6): one row per row of a published
-- table, listing its counts in 1..7 (primary suppression) and those a group they are part of
-- withholds to protect a small count (secondary suppression). The tables, their counts and the ways
-- their counts add up are data, in disclosure_tables().
{%- set tables = disclosure_tables() %}
with
{%- for t in tables %}

    {{ t.table }}_rows as (
        {%- if t.ancestors %}
            {{ with_geography_ancestors(ref(t.table)) }}
        {%- else %}
            select * from {{ ref(t.table) }}
        {%- endif %}
    ),

    -- one row per (row, count): the unit that suppression decides on
    {{ t.table }}_cells as (
        {%- for c in t.counts %}
            select
                {%- for k in t['keys'] %}
                    {{ k }},
                {%- endfor %}
                {%- if t.ancestors %}
                    region_code,
                    icb_code,
                    sub_icb_code,
                {%- endif %}
                {%- for x in t.get('carry', []) %}
                    {{ x }},
                {%- endfor %}
                {{ suppression_key(t['keys']) }} as row_id,
                '{{ c }}' as count_name,
                cast({{ c }} as {{ dbt.type_bigint() }}) as n
            from {{ t.table }}_rows
            {%- if not loop.last %}
                union all
            {%- endif %}
        {%- endfor %}
    ),

    -- per family, the cells that are parts (with their group's key) or totals (with the same key)
    {{ t.table }}_memberships as (
        {%- for f in t.families %}
            select
                '{{ t.table }}' as table_name,
                row_id,
                count_name,
                n,
                case
                    when {{ f.part }} then '{{ t.table }}|{{ f.name }}|' || {{ suppression_key(f.group) }}
                end
                    as group_key,
                {%- if f.whole %}
                    case
                        when {{ f.whole }} then '{{ t.table }}|{{ f.name }}|' || {{ suppression_key(f.total) }}
                    end as total_key
                {%- else %}
                    cast(null as {{ dbt.type_string() }}) as total_key
                {%- endif %}
            from {{ t.table }}_cells
            where {{ f.part }}{% if f.whole %} or {{ f.whole }}{% endif %}
            {%- if not loop.last %}
                union all
            {%- endif %}
        {%- endfor %}
    ),
{%- endfor %}

cells as (
    {%- for t in tables %}
        select
            '{{ t.table }}' as table_name,
            row_id,
            count_name,
            n
        from {{ t.table }}_cells
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

memberships as (
    {%- for t in tables %}
        select * from {{ t.table }}_memberships
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

-- every part of every group, with the group's total where the family has one
group_parts as (
    select
        part.table_name,
        part.row_id,
        part.count_name,
        part.n,
        part.group_key,
        whole.n as whole_n,
        part.row_id || '|' || part.count_name as cell_order
    from memberships as part
    left join memberships as whole on part.group_key = whole.total_key
    where part.group_key is not null
),

secondary as (
    select
        table_name,
        row_id,
        count_name,
        {{ secondary_suppression('n', 'whole_n', 'group_key', 'cell_order') }} as withheld
    from group_parts
),

secondary_by_cell as (
    select
        table_name,
        row_id,
        count_name,
        bool_or(withheld) as withheld
    from secondary
    group by table_name, row_id, count_name
),

decisions as (
    select
        cells.table_name,
        cells.row_id,
        cells.count_name,
        coalesce({{ is_small_count('cells.n') }}, false) as is_primary,
        not coalesce({{ is_small_count('cells.n') }}, false) and coalesce(secondary_by_cell.withheld, false)
            as is_secondary
    from cells
    left join secondary_by_cell
        on
            cells.table_name = secondary_by_cell.table_name
            and cells.row_id = secondary_by_cell.row_id
            and cells.count_name = secondary_by_cell.count_name
)

-- per row: the counts withheld, each between '|' (e.g. '|n_matched|n_unmatched|'), and the flag
{%- set withheld_name = 'case when is_primary or is_secondary then count_name end' %}
{%- set secondary_name = 'case when is_secondary then count_name end' %}
select
    table_name,
    row_id,
    '|' || coalesce({{ ordered_listagg(withheld_name, "'|'", 'count_name') }}, '') || '|' as withheld_counts,
    '|' || coalesce({{ ordered_listagg(secondary_name, "'|'", 'count_name') }}, '') || '|' as secondary_counts,
    count(case when is_primary then 1 end) as n_primary,
    count(case when is_secondary then 1 end) as n_secondary,
    bool_or(is_primary or is_secondary) as is_suppressed
from decisions
group by table_name, row_id
