{{ config(alias='mart_data_quality') }}
-- Published twin of marts.mart_data_quality. Its figures describe deliveries to the whole warehouse,
-- so the row is England level; under methods §9 v2 England is rounded too: every count of rows
-- (records of people or their events) is rounded or suppressed and the linkage rate comes from the
-- rounded counts. Counts of files and load attempts say nothing about people and stay.
with mart_rows as (
    select * from {{ ref('mart_data_quality') }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['source', 'delivery_month', 'load_attempts', 'files_received', 'files_loaded',
        'files_rejected', 'duplicate_attempts'
    ] %}
    select
        {{ published_counts('mart_data_quality', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_data_quality') }}
)

select
    'england' as geography_level,
    'ENG' as region_code,
    source,
    delivery_month,
    load_attempts,
    files_received,
    files_loaded,
    files_rejected,
    duplicate_attempts,
    {%- for c in disclosure_table('mart_data_quality').counts %}
        {{ round_count(c) }} as {{ c }},
    {%- endfor %}
    100 - {{ mean_from_rounded('unlinked_rows', 'linkable_rows', 100) }} as linkage_rate_pct,
    is_suppressed
from mart
