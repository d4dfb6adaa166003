{#- The five reporting levels of methods §1/§8 (seed geography_levels: england, region, icb, sub_icb,
    pcn). A mart cross joins its rows with the seed and keeps a row at each level where its code is
    known (England always), so these return the code, name and region of a row at `level`, an
    expression naming the level. Columns read: region_code/_name, icb_code/_name, sub_icb_code/_name,
    pcn_code/_name of the row. -#}

{% macro geography_code_at(level) -%}
    cast(
        case {{ level }}
            when 'england' then 'ENG'
            when 'region' then region_code
            when 'icb' then icb_code
            when 'sub_icb' then sub_icb_code
            when 'pcn' then pcn_code
        end as {{ dbt.type_string() }}
    )
{%- endmacro %}

{% macro geography_name_at(level) -%}
    cast(
        case {{ level }}
            when 'england' then 'England'
            when 'region' then region_name
            when 'icb' then icb_name
            when 'sub_icb' then sub_icb_name
            when 'pcn' then pcn_name
        end as {{ dbt.type_string() }}
    )
{%- endmacro %}

{#- The region a row at `level` reports to ('ENG' at England level). -#}
{% macro geography_region_at(level) -%}
    cast(case when {{ level }} = 'england' then 'ENG' else region_code end as {{ dbt.type_string() }})
{%- endmacro %}
