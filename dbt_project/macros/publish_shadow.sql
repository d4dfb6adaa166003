{#- Build, test, then swap (methods §9: a published table whose disclosure test fails is never
    swapped in for readers). Published models (models/published) are built into a shadow schema
    (dbt_project.yml: +schema published_shadow), where no reader has USAGE; their tests run there;
    this on-run-end hook then moves every such table this invocation built into
    var('published_schema'), in one transaction,
    only if every model under models/published that the invocation ran succeeded and every data test
    of those models ran and passed. Otherwise nothing moves: readers keep the previous tables and the
    failed test fails the run. ALTER TABLE ... SET SCHEMA keeps the table's grants, row-level
    security policies and comments; the privileges that `published`'s default privileges give a new
    table are granted on top, as a table created there would have them. -#}
{% macro publish_shadow_tables(results) -%}
    {%- if not execute %}{{ return('') }}{% endif -%}
    {%- set target_schema = var('published_schema') -%}
    {%- set ran = {} -%}
    {%- for r in results %}{% do ran.update({r.node.unique_id: r.status | string}) %}{% endfor -%}
    {%- set built = [] -%}
    {%- set problems = [] -%}
    {%- for r in results if is_published_model(r.node) -%}
        {%- if r.status | string == 'success' %}{% do built.append(r.node) %}
        {%- else %}{% do problems.append(r.node.name ~ ' ' ~ r.status) %}{% endif -%}
    {%- endfor -%}
    {%- if not built and not problems %}{{ return('') }}{% endif -%}
    {%- set built_ids = built | map(attribute='unique_id') | list -%}
    {%- set untested = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type in ('test', 'unit_test') -%}
        {%- set parents = node.depends_on.nodes | select('in', built_ids) | list -%}
        {%- if parents -%}
            {%- set status = ran.get(node.unique_id) -%}
            {%- if status is none and node.resource_type == 'test' -%}
                {%- do untested.append(node.name) -%}
            {%- elif status is not none and status != 'pass' -%}
                {%- do problems.append(node.name ~ ' ' ~ status) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ log('published: nothing swapped in, readers keep the previous tables (' ~ problems | join(', ') ~ ')',
               info=true) }}
        {{ return('') }}
    {%- endif -%}
    {%- if untested -%}
        {{ log('published: built in ' ~ built[0].schema ~ ' but not swapped in, ' ~ untested | length
               ~ ' of their tests did not run (dbt build runs them): ' ~ untested[:5] | join(', '), info=true) }}
        {{ return('') }}
    {%- endif -%}
    {%- set statements = ['create schema if not exists ' ~ adapter.quote(target_schema)] -%}
    {%- for node in built | sort(attribute='alias') -%}
        {%- do statements.extend(move_table_statements(node.schema, target_schema, node.alias)) -%}
    {%- endfor -%}
    {%- do run_statements_together(statements) -%}
    {{ log('published: swapped in ' ~ built | length ~ ' tested tables', info=true) }}
{%- endmacro %}


{#- The statements moving schema.name from one schema to another, replacing a table of that name. -#}
{% macro move_table_statements(from_schema, to_schema, name) -%}
    {{ return(adapter.dispatch('move_table_statements', 'spw')(from_schema, to_schema, name)) }}
{%- endmacro %}

{% macro default__move_table_statements(from_schema, to_schema, name) -%}
    {%- set quoted = adapter.quote(name) -%}
    {{ return([
        'drop table if exists ' ~ adapter.quote(to_schema) ~ '.' ~ quoted,
        'alter table ' ~ adapter.quote(from_schema) ~ '.' ~ quoted ~ ' set schema ' ~ adapter.quote(to_schema),
        grant_schema_default_privileges(to_schema, name),
    ]) }}
{%- endmacro %}

{#- Spark's catalog renames a table only within its schema: the tested table is copied, then dropped. -#}
{% macro spark__move_table_statements(from_schema, to_schema, name) -%}
    {%- set target = to_schema ~ '.' ~ name -%}
    {{ return([
        'drop table if exists ' ~ target,
        'create table ' ~ target ~ ' using parquet as select * from ' ~ from_schema ~ '.' ~ name,
        'drop table ' ~ from_schema ~ '.' ~ name,
    ]) }}
{%- endmacro %}


{#- Run statements as one transaction where the engine has them (Postgres); on Spark one by one, so
    readers may see some tables swapped and others not until the last statement. -#}
{% macro run_statements_together(statements) -%}
    {{ return(adapter.dispatch('run_statements_together', 'spw')(statements)) }}
{%- endmacro %}

{% macro default__run_statements_together(statements) -%}
    {%- do run_query('begin;\n' ~ statements | join(';\n') ~ ';\ncommit;') -%}
{%- endmacro %}

{% macro spark__run_statements_together(statements) -%}
    {%- for statement in statements %}{% do run_query(statement) %}{% endfor -%}
{%- endmacro %}


{#- A model of models/published (built into the shadow schema, published by the swap). -#}
{% macro is_published_model(node) -%}
    {{ return(node.resource_type == 'model' and node.fqn | length > 2 and node.fqn[1] == 'published') }}
{%- endmacro %}


{#- One statement granting on schema.name what the schema's default privileges (for the current
    role) give a new table there: a table moved in by SET SCHEMA would otherwise miss them. -#}
{% macro grant_schema_default_privileges(schema, name) -%}
    {{ return(adapter.dispatch('grant_schema_default_privileges', 'spw')(schema, name)) }}
{%- endmacro %}

{#- Elsewhere the platform grants access (Unity Catalog on Databricks): nothing to run. -#}
{% macro default__grant_schema_default_privileges(schema, name) -%}
{%- endmacro %}

{% macro postgres__grant_schema_default_privileges(schema, name) -%}
do $grant$
declare
    g record;
begin
    for g in
        select acl.privilege_type, acl.grantee
        from pg_default_acl as d
        cross join lateral aclexplode(d.defaclacl) as acl
        where
            d.defaclnamespace = '{{ schema }}'::regnamespace
            and d.defaclrole = current_user::regrole
            and d.defaclobjtype = 'r'
            and acl.grantee <> 0
    loop
        execute format('grant %s on %I.%I to %I', g.privilege_type, '{{ schema }}', '{{ name }}',
                       pg_get_userbyid(g.grantee));
    end loop;
end
$grant$
{%- endmacro %}
