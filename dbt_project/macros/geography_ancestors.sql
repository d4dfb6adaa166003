{#- The codes of the ICB, sub-ICB location and PCN that a row's area lies in, its own included (NULL
    above the row's own level), as select-list items icb_code, sub_icb_code, pcn_code. `row` is the
    alias of a relation with geography_level and geography_code, `hierarchy` the alias of
    int_geography_hierarchy left-joined on both. The row's own code comes from the row itself, so an
    area missing from the practice reference still answers to a filter on its own level. -#}
{% macro geography_ancestor_codes(row, hierarchy) -%}
    case
        when {{ row }}.geography_level = 'icb' then {{ row }}.geography_code
        else {{ hierarchy }}.icb_code
    end as icb_code,
    case
        when {{ row }}.geography_level = 'sub_icb' then {{ row }}.geography_code
        else {{ hierarchy }}.sub_icb_code
    end as sub_icb_code,
    case
        when {{ row }}.geography_level = 'pcn' then {{ row }}.geography_code
    end as pcn_code
{%- endmacro %}


{#- `relation` (a ref) with the three ancestor code columns appended (geography_ancestor_codes). -#}
{% macro with_geography_ancestors(relation) -%}
    select
        area_rows.*,
        {{ geography_ancestor_codes('area_rows', 'hierarchy') }}
    from {{ relation }} as area_rows
    left join {{ ref('int_geography_hierarchy') }} as hierarchy
        on
            area_rows.geography_level = hierarchy.geography_level
            and area_rows.geography_code = hierarchy.geography_code
{%- endmacro %}
