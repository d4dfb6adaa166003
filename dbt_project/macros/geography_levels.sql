{#- The five reporting levels of methods §1/§8 (england, region, icb, sub_icb, pcn) as one long
    relation: one copy of each input row per level, with geography_level, geography_code,
    geography_name and region_code ('ENG' at England level). `relation` is a CTE or relation with
    columns pcn_code/pcn_name, sub_icb_code/_name, icb_code/_name, region_code/_name; `columns` are
    carried through unchanged. Rows whose code at a level is unknown (NULL) appear at England level
    only. -#}
{% macro unpivot_geography_levels(relation, columns) -%}
    {{ unpivot_geography(relation, columns, with_names=true) }}
{%- endmacro %}


{#- The five reporting levels as codes only: one copy of each row of `relation` (columns region_code,
    icb_code, sub_icb_code, pcn_code) per level at which its code is known, with geography_level and
    geography_code ('ENG' at England level), then `columns` unchanged. Names are joined afterwards. -#}
{% macro unpivot_geography_codes(relation, columns) -%}
    {{ unpivot_geography(relation, columns, with_names=false) }}
{%- endmacro %}


{#- Both of the above: with_names adds geography_name and region_code. -#}
{% macro unpivot_geography(relation, columns, with_names) -%}
    {%- set levels = [
        ('england', "'ENG'", "'England'", "'ENG'"),
        ('region', 'region_code', 'region_name', 'region_code'),
        ('icb', 'icb_code', 'icb_name', 'region_code'),
        ('sub_icb', 'sub_icb_code', 'sub_icb_name', 'region_code'),
        ('pcn', 'pcn_code', 'pcn_name', 'region_code'),
    ] %}
    {%- for level, code, name, region in levels -%}
        {%- set named = [
            'cast(' ~ name ~ ' as ' ~ dbt.type_string() ~ ') as geography_name',
            'cast(' ~ region ~ ' as ' ~ dbt.type_string() ~ ') as region_code',
        ] if with_names else [] %}
        select
            '{{ level }}' as geography_level,
            cast({{ code }} as {{ dbt.type_string() }}) as geography_code,
            {{ (named + columns) | join(', ') }}
        from {{ relation }}
        {%- if level != 'england' %}
            where {{ code }} is not null
        {%- endif %}
        {%- if not loop.last %}
            union all
        {% endif %}
    {%- endfor %}
{%- endmacro %}
