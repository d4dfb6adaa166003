{#- Governance check (methods §9): every published model (built into the shadow schema) carries the
    disclosure_controlled test, and every numeric column of it carries disclosure_ratio or
    disclosure_estimate or says in meta.disclosure why it is not about people. So a new published
    table or column cannot ship unchecked. Fails with one row per gap. Reads only the project graph. -#}
-- depends_on: {{ ref('pub_mart_rollout_pcn_month') }}
{%- set missing = [] %}
{%- if execute %}
    {%- set tests_by_model = {} %}
    {%- for node in graph.nodes.values() if node.resource_type == 'test' %}
        {%- set test_name = (node.get('test_metadata') or {}).get('name') %}
        {%- for parent in node.depends_on.nodes %}
            {%- do tests_by_model.setdefault(parent, []).append(
                {'test': test_name, 'column': node.get('column_name') or ''}
            ) %}
        {%- endfor %}
    {%- endfor %}
    {%- for node in graph.nodes.values() %}
        {%- if is_published_model(node) %}
            {%- set tests = tests_by_model.get(node.unique_id, []) %}
            {%- if tests | selectattr('test', 'equalto', 'disclosure_controlled') | list | length == 0 %}
                {%- do missing.append(node.name ~ ': no disclosure_controlled test') %}
            {%- endif %}
            {%- for column in node.columns.values() %}
                {%- set numeric_type = (column.data_type or '') | lower in (
                    'double precision', 'float', 'float8', 'real', 'numeric', 'decimal'
                ) %}
                {%- set checked = tests | selectattr('column', 'equalto', column.name)
                    | selectattr('test', 'in', ['disclosure_ratio', 'disclosure_estimate']) | list %}
                {%- if numeric_type and not checked and not (column.meta or {}).get('disclosure') %}
                    {%- do missing.append(node.name ~ '.' ~ column.name ~ ': numeric column without a disclosure test') %}
                {%- endif %}
            {%- endfor %}
        {%- endif %}
    {%- endfor %}
{%- endif %}

select cast(null as {{ dbt.type_string() }}) as model_name
where false
{%- for name in missing %}
    union all
    select '{{ name }}' as model_name
{%- endfor %}
