{#- Column types whose names differ between engines, behind adapter.dispatch (`default__` Postgres,
    `spark__` Spark). Bare `numeric` and dbt.type_float() give silently wrong numbers on Spark
    (decimal(10,0), a 4-byte float): tests/test_dbt_portability.py refuses them in models and macros. -#}

{#- An exact decimal for sums and means whose order of addition must not matter: unconstrained
    numeric on Postgres; on Spark 38 digits, 18 after the point (a mean of 2-place scores is exact to
    far below what is published). -#}
{% macro type_exact_decimal() -%}
    {{ return(adapter.dispatch('type_exact_decimal', 'spw')()) }}
{%- endmacro %}

{% macro default__type_exact_decimal() -%}
    numeric
{%- endmacro %}

{% macro spark__type_exact_decimal() -%}
    decimal(38, 18)
{%- endmacro %}

{#- An 8-byte float. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'spw')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
