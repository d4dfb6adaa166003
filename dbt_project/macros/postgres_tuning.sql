{#- Postgres planner tuning, the one place for it: each macro is a no-op on other adapters. -#}

{#- Post-hook of every intermediate table: fresh statistics, so the next model's joins are sized
    right. -#}
{% macro analyze_relation(relation) -%}
    {{ return(adapter.dispatch('analyze_relation', 'spw')(relation)) }}
{%- endmacro %}

{% macro default__analyze_relation(relation) -%}
{%- endmacro %}

{% macro postgres__analyze_relation(relation) -%}
    {%- if model is defined and model.config.materialized in ('table', 'incremental') -%}
        analyze {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- `as materialized` on a CTE keeps the planned order where the row estimate of a derived key (a
    computed ring position) would mislead the planner into inlining it. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'spw')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
{%- endmacro %}

{% macro postgres__materialized_cte() -%}
    materialized
{%- endmacro %}

{#- `as not materialized` on a CTE read twice: Postgres would otherwise copy it (a whole table, such
    as the matching ring) into a work area, losing its statistics, instead of reading it in place. -#}
{% macro inlined_cte() -%}
    {{ return(adapter.dispatch('inlined_cte', 'spw')()) }}
{%- endmacro %}

{% macro default__inlined_cte() -%}
{%- endmacro %}

{% macro postgres__inlined_cte() -%}
    not materialized
{%- endmacro %}

{#- Pre-hook of models that aggregate millions of rows into few groups behind joins whose estimates
    run far too high: Postgres would sort them all by text keys instead of hashing. -#}
{% macro prefer_hash_aggregation() -%}
    {{ return(adapter.dispatch('prefer_hash_aggregation', 'spw')()) }}
{%- endmacro %}

{% macro default__prefer_hash_aggregation() -%}
{%- endmacro %}

{% macro postgres__prefer_hash_aggregation() -%}
    set local enable_sort = off
{%- endmacro %}

{#- Pre-hook of the matching, timeline and staggered DiD models: their many equality conditions
    collapse the row estimates to "1 row", and a nested loop planned for that rescans a table per
    pair. -#}
{% macro avoid_nested_loops() -%}
    {{ return(adapter.dispatch('avoid_nested_loops', 'spw')()) }}
{%- endmacro %}

{% macro default__avoid_nested_loops() -%}
{%- endmacro %}

{% macro postgres__avoid_nested_loops() -%}
    set local enable_nestloop = off
{%- endmacro %}

{#- Pre-hook of int_match_pool: its ring places come from a CTE the planner cannot size, and it then
    sorts both sides by their text keys for a merge join instead of hashing. -#}
{% macro avoid_merge_joins() -%}
    {{ return(adapter.dispatch('avoid_merge_joins', 'spw')()) }}
{%- endmacro %}

{% macro default__avoid_merge_joins() -%}
{%- endmacro %}

{% macro postgres__avoid_merge_joins() -%}
    set local enable_mergejoin = off
{%- endmacro %}
