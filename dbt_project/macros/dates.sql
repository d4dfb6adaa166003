{#- Date expressions shared by the models. -#}

{#- Sentinel for an open start of validity (data contract: empty effective_from = since always). -#}
{% macro open_start_date() -%}
    cast('1900-01-01' as date)
{%- endmacro %}

{#- Sentinel for an open end of validity (empty effective_to = current). -#}
{% macro open_end_date() -%}
    cast('9999-12-31' as date)
{%- endmacro %}

{#- Calendar-month arithmetic (31 Aug + 6 months = 28/29 Feb), always returned as a date. -#}
{% macro add_months(date_expr, n) -%}
    cast({{ dbt.dateadd('month', n, date_expr) }} as date)
{%- endmacro %}

{#- First and last day of a calendar year given as an integer expression. -#}
{% macro year_start(year_expr) -%}
    cast(cast({{ year_expr }} as {{ dbt.type_string() }}) || '-01-01' as date)
{%- endmacro %}

{% macro year_end(year_expr) -%}
    cast(cast({{ year_expr }} as {{ dbt.type_string() }}) || '-12-31' as date)
{%- endmacro %}

{#- April-March financial year of a date, written '2023/24'. -#}
{% macro financial_year(date_col) -%}
    (
        cast(
            extract(year from {{ date_col }}) - case when extract(month from {{ date_col }}) < 4 then 1 else 0 end
            as integer
        ) || '/'
        || lpad(
            cast(
                mod(
                    cast(
                        extract(year from {{ date_col }}) + case when extract(month from {{ date_col }}) < 4 then 0 else 1 end
                        as integer
                    ),
                    100
                ) as {{ dbt.type_string() }}
            ),
            2,
            '0'
        )
    )
{%- endmacro %}

{#- Whole days between two dates (end - start). -#}
{% macro days_between(start_date, end_date) -%}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}
