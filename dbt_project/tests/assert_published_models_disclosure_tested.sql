{#- Governance check: every model in the published schema carries the disclosure_controlled test
    (methods §9), so a new published table cannot ship without its count columns being checked.
    Fails with one row per published model lacking the test. Reads only the project graph. -#}
-- depends_on: {{ ref('pub_mart_rollout_pcn_month') }}
{%- set missing = [] %}
{%- if execute %}
    {%- set tested = [] %}
    {%- for node in graph.nodes.values() %}
        {%- set test_name = (node.get('test_metadata') or {}).get('name') %}
        {%- if node.resource_type == 'test' and test_name == 'disclosure_controlled' %}
            {%- do tested.extend(node.depends_on.nodes) %}
        {%- endif %}
    {%- endfor %}
    {%- for node in graph.nodes.values() %}
        {%- if node.resource_type == 'model' and node.schema == 'published' and node.unique_id not in tested %}
            {%- do missing.append(node.name) %}
        {%- endif %}
    {%- endfor %}
{%- endif %}

select cast(null as {{ dbt.type_string() }}) as model_name
where false
{%- for name in missing %}
    union all
    select '{{ name }}' as model_name
{%- endfor %}
