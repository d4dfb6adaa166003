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


{#- The names of the region and ICB a row lies in, as select-list items region_name, icb_name, for the
    dashboards' filter bar (people choose "Midlands", not Y60). `region_names` and `icb_names` are the
    aliases of int_geography_names joined by geography_name_joins. NULL where the row has no region
    (England, 'UNK') or no ICB (above ICB level), as the codes are. -#}
{% macro geography_ancestor_names(region_names='region_names', icb_names='icb_names') -%}
    {{ region_names }}.geography_name as region_name,
    {{ icb_names }}.geography_name as icb_name
{%- endmacro %}


{#- Left joins of int_geography_names for geography_ancestor_names: the region by `region_code` (the
    row's own, the row-level security key, so a name filter keeps exactly the rows its code would)
    and the ICB by `icb_code` (an expression: the row's ICB, its own at ICB level). -#}
{% macro geography_name_joins(region_code, icb_code, region_names='region_names', icb_names='icb_names') -%}
    left join {{ ref('int_geography_names') }} as {{ region_names }}
        on
            {{ region_names }}.geography_level = 'region'
            and {{ region_code }} = {{ region_names }}.geography_code
    left join {{ ref('int_geography_names') }} as {{ icb_names }}
        on
            {{ icb_names }}.geography_level = 'icb'
            and {{ icb_code }} = {{ icb_names }}.geography_code
{%- endmacro %}


{#- `relation` (a ref) with the three ancestor code columns (geography_ancestor_codes) and the region
    and ICB names (geography_ancestor_names) appended. -#}
{% macro with_geography_ancestors(relation) -%}
    select
        area_rows.*,
        {{ geography_ancestor_codes('area_rows', 'hierarchy') }},
        {{ geography_ancestor_names() }}
    from {{ relation }} as area_rows
    left join {{ ref('int_geography_hierarchy') }} as hierarchy
        on
            area_rows.geography_level = hierarchy.geography_level
            and area_rows.geography_code = hierarchy.geography_code
    {{ geography_name_joins(
        'area_rows.region_code',
        "case when area_rows.geography_level = 'icb' then area_rows.geography_code else hierarchy.icb_code end"
    ) }}
{%- endmacro %}
