{{ config(alias='mart_cohort_attrition') }}
-- Published twin of marts.mart_cohort_attrition: every column is a count of people, so each is
-- rounded or suppressed at every level (methods §9).
{%- set counts = [
    'referred', 'excluded_incomplete_follow_up', 'excluded_not_registered_throughout', 'excluded_died',
    'eligible', 'engaged'
] %}
with mart as (
    {{ with_geography_ancestors(ref('mart_cohort_attrition')) }}
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    cohort_fy,
    window_months,
    {%- for c in counts %}
        {{ round_count(c) }} as {{ c }},
    {%- endfor %}
    {{ suppress_flag(counts) }} as is_suppressed
from mart
