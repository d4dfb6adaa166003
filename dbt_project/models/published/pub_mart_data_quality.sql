{{ config(alias='mart_data_quality') }}
-- Published twin of marts.mart_data_quality. Its figures describe deliveries to the whole warehouse,
-- so the row is England level; under methods §9 v2 England is rounded too: every count of rows
-- (records of people or their events) is rounded or suppressed and the linkage rate comes from the
-- rounded counts. Counts of files and load attempts say nothing about people and stay.
{%- set rules = [
    'required', 'field_count', 'date_format', 'date_range', 'first_of_month', 'int_format',
    'decimal_format', 'range', 'pattern', 'code_set', 'nhs_number_format', 'nhs_number_check_digit',
    'nhs_number_all_one_digit', 'pseudo_nhs_number_format', 'order', 'code_set_for', 'range_for'
] %}
{%- set row_counts = ['rows_read', 'rows_loaded', 'rows_rejected', 'rejected_rows_listed'] %}
{%- for rule in rules %}{% do row_counts.append('rows_rejected_' ~ rule) %}{% endfor %}
{%- do row_counts.extend([
    'rows_rejected_other_rule', 'current_rows', 'unknown_practice_code_rows', 'unknown_pcn_code_rows',
    'linkable_rows', 'unlinked_rows'
]) %}
with mart as (
    select * from {{ ref('mart_data_quality') }}
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
    {%- for c in row_counts %}
        {{ round_count(c) }} as {{ c }},
    {%- endfor %}
    100 - {{ mean_from_rounded('unlinked_rows', 'linkable_rows', 100) }} as linkage_rate_pct,
    {{ suppress_flag(row_counts) }} as is_suppressed
from mart
