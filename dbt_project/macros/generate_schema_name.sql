{#- Use the layer's schema name as written (staging, intermediate, marts, published, reference),
    not dbt's default "<target>_<custom>" concatenation: dashboards and roles rely on exact names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
