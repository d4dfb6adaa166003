{#- SQL functions whose spelling differs between engines, behind adapter.dispatch: `default__` is
    Postgres, `spark__` Spark (tests/test_spark_parity.py builds the project with both). -#}

{#- Continuous median (interpolated), as an aggregate: percentile_cont is an ordered-set aggregate. -#}
{% macro median_cont(expr) -%}
    {{ return(adapter.dispatch('median_cont', 'spw')(expr)) }}
{%- endmacro %}

{% macro default__median_cont(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{% macro spark__median_cont(expr) -%}
    percentile({{ expr }}, 0.5)
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

{#- split takes a regular expression: the separator is quoted. -#}
{% macro spark__split_list(col, sep) -%}
    explode(split({{ col }}, '\\Q{{ sep }}\\E'))
{%- endmacro %}


{#- num / den where either may be a wide decimal. Postgres keeps at least 16 significant digits of a
    numeric quotient; Spark cuts a quotient of two decimal(38, s) to 6 decimal places, so there the
    division is done in double (the result is cast to a double by the callers anyway). -#}
{% macro ratio(num, den) -%}
    {{ return(adapter.dispatch('ratio', 'spw')(num, den)) }}
{%- endmacro %}

{% macro default__ratio(num, den) -%}
    ({{ num }}) / ({{ den }})
{%- endmacro %}

{% macro spark__ratio(num, den) -%}
    cast(({{ num }}) as double) / cast(({{ den }}) as double)
{%- endmacro %}


{#- Aggregate: the values of expr joined by delimiter in the order of order_key, NULLs left out
    (Postgres string_agg ... order by). dbt.listagg drops the order on Spark, so lists came out in
    another order there; Spark sorts structs of (key, value) instead. -#}
{% macro ordered_listagg(expr, delimiter, order_key) -%}
    {{ return(adapter.dispatch('ordered_listagg', 'spw')(expr, delimiter, order_key)) }}
{%- endmacro %}

{% macro default__ordered_listagg(expr, delimiter, order_key) -%}
    string_agg({{ expr }}, {{ delimiter }} order by {{ order_key }})
{%- endmacro %}

{% macro spark__ordered_listagg(expr, delimiter, order_key) -%}
    array_join(
        transform(array_sort(collect_list(struct({{ order_key }} as sort_key, {{ expr }} as item))), kv -> kv.item),
        {{ delimiter }}
    )
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

{% macro spark__month_series(start_date, end_date) -%}
    explode(sequence(
        cast({{ dbt.date_trunc('month', start_date) }} as date),
        cast({{ dbt.date_trunc('month', end_date) }} as date),
        interval 1 month
    ))
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

{% macro spark__delivery_month(file_name, loaded_at) -%}
    case
        when {{ file_name }} rlike '^[0-9]{4}-(0[1-9]|1[0-2])([^0-9]|$)'
            then to_date(substr({{ file_name }}, 1, 7) || '-01', 'yyyy-MM-dd')
        else cast(date_trunc('month', {{ loaded_at }}) as date)
    end
{%- endmacro %}
