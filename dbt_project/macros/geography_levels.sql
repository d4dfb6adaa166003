{#- The five reporting levels of methods §1/§8 as data, broadest first: per level its name and the
    expressions of a row's code, name and region there ('ENG' and 'England' at England level). A mart
    writes one copy of its rows per level where the code is known (England: every row) with a loop
    over this list. -#}
{% macro reporting_levels() -%}
    {{ return([
        {'level': 'england', 'code': "'ENG'", 'name': "'England'", 'region': "'ENG'"},
        {'level': 'region', 'code': 'region_code', 'name': 'region_name', 'region': 'region_code'},
        {'level': 'icb', 'code': 'icb_code', 'name': 'icb_name', 'region': 'region_code'},
        {'level': 'sub_icb', 'code': 'sub_icb_code', 'name': 'sub_icb_name', 'region': 'region_code'},
        {'level': 'pcn', 'code': 'pcn_code', 'name': 'pcn_name', 'region': 'region_code'},
    ]) }}
{%- endmacro %}

{#- The four geography columns of a mart row at one reporting level (an item of reporting_levels()),
    as every mart names and types them. -#}
{% macro geography_level_columns(level) -%}
    '{{ level.level }}' as geography_level,
    cast({{ level.code }} as {{ dbt.type_string() }}) as geography_code,
    cast({{ level.name }} as {{ dbt.type_string() }}) as geography_name,
    cast({{ level.region }} as {{ dbt.type_string() }}) as region_code
{%- endmacro %}
