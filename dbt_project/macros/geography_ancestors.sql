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


{#- The names of the areas a row lies in, as select-list items region_name, icb_name and, with
    `finer`, sub_icb_name, pcn_name, for the dashboards' filter bar (people choose "Midlands", not Y60,
    and a PCN by its name, not U12345). The aliases are those geography_name_joins gives
    int_geography_names. NULL where the row has no such area (England, 'UNK', or above its level), as
    the codes are. -#}
{% macro geography_ancestor_names(finer=false) -%}
    region_names.geography_name as region_name,
    icb_names.geography_name as icb_name
    {%- if finer %},
        sub_icb_names.geography_name as sub_icb_name,
        pcn_names.geography_name as pcn_name
    {%- endif %}
{%- endmacro %}


{#- Left joins of int_geography_names for geography_ancestor_names: the region by `region_code` (the
    row's own, the row-level security key, so a name filter keeps exactly the rows its code would),
    the ICB by `icb_code` and, when given, the sub-ICB location and PCN by `sub_icb_code` and
    `pcn_code` (expressions: the row's areas, its own included). -#}
{% macro geography_name_joins(region_code, icb_code, sub_icb_code=none, pcn_code=none) -%}
    {%- set joins = [('region', 'region_names', region_code), ('icb', 'icb_names', icb_code)] %}
    {%- if sub_icb_code is not none %}
        {%- do joins.append(('sub_icb', 'sub_icb_names', sub_icb_code)) %}
    {%- endif %}
    {%- if pcn_code is not none %}
        {%- do joins.append(('pcn', 'pcn_names', pcn_code)) %}
    {%- endif %}
    {%- for level, alias, code in joins %}
    left join {{ ref('int_geography_names') }} as {{ alias }}
        on
            {{ alias }}.geography_level = '{{ level }}'
            and {{ code }} = {{ alias }}.geography_code
    {%- endfor %}
{%- endmacro %}


{#- `relation` (a ref) with the three ancestor code columns (geography_ancestor_codes) and the names
    of the region, ICB, sub-ICB location and PCN (geography_ancestor_names) appended. -#}
{% macro with_geography_ancestors(relation) -%}
    select
        located.*,
        {{ geography_ancestor_names(finer=true) }}
    from (
        select
            area_rows.*,
            {{ geography_ancestor_codes('area_rows', 'hierarchy') }}
        from {{ relation }} as area_rows
        left join {{ ref('int_geography_hierarchy') }} as hierarchy
            on
                area_rows.geography_level = hierarchy.geography_level
                and area_rows.geography_code = hierarchy.geography_code
    ) as located
    {{ geography_name_joins('located.region_code', 'located.icb_code', 'located.sub_icb_code', 'located.pcn_code') }}
{%- endmacro %}
