{{ config(alias='mart_cohort_attrition') }}
-- Published twin of marts.mart_cohort_attrition: every column is a count of people, so each is
-- rounded or suppressed at every level (methods §9), and counts that would give a suppressed one away
-- are withheld too (secondary suppression, docs/methods.md §6).
with mart_rows as (
    {{ with_geography_ancestors(ref('mart_cohort_attrition')) }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['geography_level', 'geography_code', 'geography_name', 'region_code', 'icb_code',
        'sub_icb_code', 'pcn_code', 'region_name', 'icb_name', 'sub_icb_name', 'pcn_name', 'cohort_fy', 'window_months'
    ] %}
    select
        {{ published_counts('mart_cohort_attrition', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_cohort_attrition') }}
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    region_name,
    icb_name,
    sub_icb_name,
    pcn_name,
    cohort_fy,
    window_months,
    {%- for c in disclosure_table('mart_cohort_attrition').counts %}
        {{ round_count(c) }} as {{ c }},
    {%- endfor %}
    is_suppressed
from mart
