{#- Generic tests' `where` may name the tested relation as __this__ and this dbt invocation's start as
    __run_started_at__. Incremental models use them to test only what a build wrote, e.g.
    "built_at = __run_started_at__": rows are replaced by whole partitions (a ring year, an index row's
    set), so a partition tested when it was written stays valid, and a one-month refresh does not
    re-read millions of rows it did not touch. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set where = where | replace('__this__', relation | string)
            | replace('__run_started_at__', run_marker()) -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') as dbt_subquery') }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
