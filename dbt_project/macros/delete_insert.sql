{#- Incremental delete+insert on Postgres, with the planner's nested loops allowed again. Models that
    join with avoid_nested_loops() (a `set local` for their transaction) would otherwise delete their
    old rows by hashing the tmp table's keys and reading the whole target (4 million ring rows to
    delete none); with nested loops back, a key list of a few rows is looked up through the target's
    index. Post-hooks run after it, so they plan normally too. -#}
{% macro postgres__get_incremental_delete_insert_sql(arg_dict) -%}
    {{ restore_nested_loops() }};
    {{ get_delete_insert_merge_sql(arg_dict["target_relation"], arg_dict["temp_relation"], arg_dict["unique_key"],
        arg_dict["dest_columns"], arg_dict["incremental_predicates"]) }}
{%- endmacro %}
