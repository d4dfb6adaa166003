{#- Rule names the loader writes to audit.rejected_rows.rule (spw.ingest.contract); any other name
    is counted under rows_rejected_other_rule. -#}
{%- set rules = [
    'required', 'field_count', 'date_format', 'date_range', 'first_of_month', 'int_format',
    'decimal_format', 'range', 'pattern', 'code_set', 'nhs_number_format', 'nhs_number_check_digit',
    'nhs_number_all_one_digit', 'pseudo_nhs_number_format', 'order', 'code_set_for', 'range_for'
] -%}
-- Data quality per source and delivery month: files and rows from the load ledger, rejected rows by
-- rule, and reference/linkage checks on the records each delivery put in the warehouse.
with file_loads as (
    select
        *,
        {{ delivery_month('file_name', 'started_at') }} as delivery_month
    from {{ source('audit', 'file_loads') }}
),

-- Each delivered file (source + sha256) belongs to the delivery month of its first ledger row.
files as (
    select
        source,
        sha256,
        delivery_month
    from (
        select
            source,
            sha256,
            delivery_month,
            row_number() over (partition by source, sha256 order by started_at, id) as rn
        from file_loads
    ) as f
    where rn = 1
),

ledger as (
    select
        source,
        delivery_month,
        count(*) as load_attempts,
        count(distinct sha256) as files_received,
        count(distinct case when status = 'loaded' then sha256 end) as files_loaded,
        count(distinct case when status = 'rejected' then sha256 end) as files_rejected,
        sum(case when status = 'duplicate' then 1 else 0 end) as duplicate_attempts,
        sum(case when status <> 'duplicate' then rows_read else 0 end) as rows_read,
        sum(case when status = 'loaded' then rows_loaded else 0 end) as rows_loaded,
        sum(case when status <> 'duplicate' then rows_rejected else 0 end) as rows_rejected
    from file_loads
    group by source, delivery_month
),

-- A row breaking one rule in several columns counts once for that rule.
rejected as (
    select
        f.source,
        f.delivery_month,
        r.rule,
        r.sha256 || ':' || coalesce(cast(r.line_number as {{ dbt.type_string() }}), '') as row_key,
        r.rule in (
            {%- for rule in rules %}
                '{{ rule }}'{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as is_known_rule
    from {{ source('audit', 'rejected_rows') }} as r
    inner join files as f on r.source = f.source and r.sha256 = f.sha256
),

rejections as (
    select
        source,
        delivery_month,
        count(distinct row_key) as rejected_rows_listed,
        {%- for rule in rules %}
            count(distinct case when rule = '{{ rule }}' then row_key end) as rows_rejected_{{ rule }},
        {%- endfor %}
        count(distinct case when not is_known_rule then row_key end) as rows_rejected_other_rule
    from rejected
    group by source, delivery_month
),

checks as (
    select
        f.source,
        f.delivery_month,
        sum(c.current_rows) as current_rows,
        sum(c.unknown_practice_code_rows) as unknown_practice_code_rows,
        sum(c.unknown_pcn_code_rows) as unknown_pcn_code_rows,
        sum(c.linkable_rows) as linkable_rows,
        sum(c.unlinked_rows) as unlinked_rows
    from {{ ref('int_dq_record_checks') }} as c
    inner join files as f on c.source = f.source and c.file_sha256 = f.sha256
    group by f.source, f.delivery_month
)

select
    l.source,
    l.delivery_month,
    cast(l.load_attempts as bigint) as load_attempts,
    cast(l.files_received as bigint) as files_received,
    cast(l.files_loaded as bigint) as files_loaded,
    cast(l.files_rejected as bigint) as files_rejected,
    cast(l.duplicate_attempts as bigint) as duplicate_attempts,
    cast(l.rows_read as bigint) as rows_read,
    cast(l.rows_loaded as bigint) as rows_loaded,
    cast(l.rows_rejected as bigint) as rows_rejected,
    cast(coalesce(r.rejected_rows_listed, 0) as bigint) as rejected_rows_listed,
    {%- for rule in rules %}
        cast(coalesce(r.rows_rejected_{{ rule }}, 0) as bigint) as rows_rejected_{{ rule }},
    {%- endfor %}
    cast(coalesce(r.rows_rejected_other_rule, 0) as bigint) as rows_rejected_other_rule,
    cast(coalesce(c.current_rows, 0) as bigint) as current_rows,
    cast(c.unknown_practice_code_rows as bigint) as unknown_practice_code_rows,
    cast(c.unknown_pcn_code_rows as bigint) as unknown_pcn_code_rows,
    cast(c.linkable_rows as bigint) as linkable_rows,
    cast(c.unlinked_rows as bigint) as unlinked_rows,
    cast(
        100.0 * (c.linkable_rows - c.unlinked_rows) / nullif(c.linkable_rows, 0) as {{ type_double() }}
    ) as linkage_rate_pct
from ledger as l
left join rejections as r on l.source = r.source and l.delivery_month = r.delivery_month
left join checks as c on l.source = c.source and l.delivery_month = c.delivery_month
