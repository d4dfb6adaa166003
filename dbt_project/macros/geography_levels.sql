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
