{#- Postgres-specific SQL kept behind macros so a port to another warehouse touches only this file. -#}

{#- Continuous median (interpolated), as an aggregate: percentile_cont is an ordered-set aggregate. -#}
{% macro median_cont(expr) -%}
    {{ return(adapter.dispatch('median_cont', 'spw')(expr)) }}
{%- endmacro %}

{% macro default__median_cont(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}


{#- One row per element of a ';'-separated text list, as a set-returning function to join laterally:
    `from t cross join lateral {{ split_list('t.col') }} as l (item)`; callers trim the elements
    and drop empty ones (e.g. after a trailing ';'). A NULL list gives no rows. -#}
{% macro split_list(col, sep=';') -%}
    {{ return(adapter.dispatch('split_list', 'spw')(col, sep)) }}
{%- endmacro %}

{% macro default__split_list(col, sep) -%}
    unnest(string_to_array({{ col }}, '{{ sep }}'))
{%- endmacro %}


{#- Sample standard deviation aggregate (NULL for fewer than two values). -#}
{% macro sample_stddev(expr) -%}
    stddev_samp({{ expr }})
{%- endmacro %}


{#- First days of every month from the month of start_date to the month of end_date, as a
    set-returning function to join laterally: `cross join lateral {{ month_series('a', 'b') }} as s (m)`
    (Postgres generate_series; timestamps, cast to date by the caller). -#}
{% macro month_series(start_date, end_date) -%}
    {{ return(adapter.dispatch('month_series', 'spw')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__month_series(start_date, end_date) -%}
    generate_series(
        cast({{ dbt.date_trunc('month', start_date) }} as date),
        cast({{ dbt.date_trunc('month', end_date) }} as date),
        interval '1 month'
    )
{%- endmacro %}


{#- Delivery month of a landed file: the period its name starts with (YYYY-MM, the contract's usual
    naming, e.g. 2024-05.csv or 2024-05-gp.csv), else the month it was loaded. -#}
{% macro delivery_month(file_name, loaded_at) -%}
    {{ return(adapter.dispatch('delivery_month', 'spw')(file_name, loaded_at)) }}
{%- endmacro %}

{% macro default__delivery_month(file_name, loaded_at) -%}
    case
        when {{ file_name }} ~ '^[0-9]{4}-(0[1-9]|1[0-2])([^0-9]|$)'
            then to_date(substr({{ file_name }}, 1, 7) || '-01', 'YYYY-MM-DD')
        else cast(date_trunc('month', {{ loaded_at }}) as date)
    end
{%- endmacro %}


{#- Sample standard deviation from a count n, sum s and sum of squares ss (NULL when n < 2), so
    groups can be summed from cells before the spread is taken. The same formula as stddev_samp,
    exact in numeric until the last division. -#}
{% macro sample_sd_from_sums(n, s, ss) -%}
    case
        when {{ n }} >= 2
            then sqrt(({{ n }} * {{ ss }} - {{ s }} * {{ s }}) / ({{ n }} * ({{ n }} - 1)))
    end
{%- endmacro %}


{#- A field of a JSON record (audit.replaced_records.record), as text. -#}
{% macro record_field(record, key) -%}
    {{ return(adapter.dispatch('record_field', 'spw')(record, key)) }}
{%- endmacro %}

{% macro default__record_field(record, key) -%}
    {{ record }} ->> '{{ key }}'
{%- endmacro %}

{% macro spark__record_field(record, key) -%}
    get_json_object({{ record }}, '$.{{ key }}')
{%- endmacro %}


{#- Raw tables of the contract sources whose unique record key index (<source>_record_key, created by
    the loader) is missing, not unique or not valid: one row each (none when all hold). -#}
{% macro raw_record_key_index_faults() -%}
    {{ return(adapter.dispatch('raw_record_key_index_faults', 'spw')()) }}
{%- endmacro %}

{% macro default__raw_record_key_index_faults() -%}
    {%- set sources = ['practices', 'link_worker_workforce', 'patients', 'sp_referrals', 'sp_wellbeing',
        'gp_appointments', 'ae_attendances', 'inpatient_admissions'] %}
select s.source
from (
    {%- for s in sources %}
    select '{{ s }}' as source
        {%- if not loop.last %}
    union all
        {%- endif %}
    {%- endfor %}
) as s
left join pg_catalog.pg_class as t
    on
        t.relname = s.source
        and t.relnamespace = 'raw'::regnamespace
left join pg_catalog.pg_index as i
    on
        i.indrelid = t.oid
        and i.indexrelid = to_regclass('raw.' || s.source || '_record_key')
where i.indexrelid is null or not i.indisunique or not i.indisvalid
{%- endmacro %}


{#- Aggregate: a fingerprint of a group's rows that does not depend on their order (a sum of 60-bit
    prefixes of each row's md5), so it needs no sort. -#}
{% macro order_free_fingerprint(expr) -%}
    {{ return(adapter.dispatch('order_free_fingerprint', 'spw')(expr)) }}
{%- endmacro %}

{% macro default__order_free_fingerprint(expr) -%}
    sum(cast(cast('x' || substr(md5({{ expr }}), 1, 15) as bit(60)) as bigint))
{%- endmacro %}

{% macro spark__order_free_fingerprint(expr) -%}
    sum(conv(substr(md5({{ expr }}), 1, 15), 16, 10))
{%- endmacro %}
