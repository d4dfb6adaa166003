{#- Date helpers shared by the cohort models. Postgres-specific SQL is kept inside these macros. -#}

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

{#- April-March financial year of a date, written '2023/24'. -#}
{% macro financial_year(date_col) -%}
    {{ return(adapter.dispatch('financial_year', 'spw')(date_col)) }}
{%- endmacro %}

{% macro default__financial_year(date_col) -%}
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

{#- Refresh planner statistics of a freshly built table (Postgres ANALYZE; no-op elsewhere). -#}
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

{#- Postgres inlines CTEs by default; `as materialized` keeps a planned order where row estimates of
    a derived key (e.g. a computed ring position) would mislead the planner. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'spw')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
{%- endmacro %}

{% macro postgres__materialized_cte() -%}
    materialized
{%- endmacro %}

{#- For a model that aggregates millions of rows into few groups behind joins whose row estimates run
    far too high: Postgres then sorts them all (by text keys, under the database's collation) instead
    of hashing. Turned off for the model's own transaction only; other adapters plan for themselves. -#}
{% macro prefer_hash_aggregation() -%}
    {{ return(adapter.dispatch('prefer_hash_aggregation', 'spw')()) }}
{%- endmacro %}

{% macro default__prefer_hash_aggregation() -%}
{%- endmacro %}

{% macro postgres__prefer_hash_aggregation() -%}
    set local enable_sort = off
{%- endmacro %}

{#- Pre-hook: join by hashing, not by nested loops. The matching stages join a few index rows (an
    incremental build's) or estimates that collapse through their many equality conditions to
    millions of ring members and people referred; a nested loop planned for "1 row" then rescans a
    table per pair. Postgres only (a no-op elsewhere); `set local` ends with the model's transaction. -#}
{% macro avoid_nested_loops() -%}
    {{ return(adapter.dispatch('avoid_nested_loops', 'spw')()) }}
{%- endmacro %}

{% macro default__avoid_nested_loops() -%}
{%- endmacro %}

{% macro postgres__avoid_nested_loops() -%}
    set local enable_nestloop = off
{%- endmacro %}

{#- Pre-hook of int_match_pool: avoid_nested_loops() unless this build recomputes at most
    var('few_index_rows') index rows (a monthly refresh: a few thousand). Then each index row's ring
    places are looked up through the ring's indexes (ensure_ring_indexes) instead of hashing the whole
    ring (4 million rows at 1.5 million patients, for about 200,000 places). Read when the model runs. -#}
{% macro avoid_nested_loops_unless_few_todo(relation) -%}
    {%- set few = false -%}
    {%- if execute and is_incremental() and model.resource_type == 'model' -%}
        {%- set n = run_query("select count(*) from " ~ ref('int_match_todo') ~ " where todo_at > "
            ~ todo_since(relation)) -%}
        {%- set few = n.rows[0][0] <= var('few_index_rows', 20000) -%}
    {%- endif -%}
    {%- if few -%}
        {{ restore_nested_loops() }}
    {%- else -%}
        {{ avoid_nested_loops() }}
    {%- endif -%}
{%- endmacro %}

{#- Undo avoid_nested_loops() for the rest of the model's transaction (its delete+insert, post-hooks). -#}
{% macro restore_nested_loops() -%}
    {{ return(adapter.dispatch('restore_nested_loops', 'spw')()) }}
{%- endmacro %}

{% macro default__restore_nested_loops() -%}
    select 1
{%- endmacro %}

{% macro postgres__restore_nested_loops() -%}
    set local enable_nestloop to default
{%- endmacro %}
