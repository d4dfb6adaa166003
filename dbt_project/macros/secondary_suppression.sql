{#- Secondary suppression (methods §6, the project's reading of statement v2 §9): what the published
    layer withholds beyond the counts of 1..7, so that no withheld count can be worked out from the
    published totals it belongs to. A "family" is one documented way that counts add up (an area and
    the areas within it, `all` and the cohort years, a total and its values, n_patients = n_matched
    + n_unmatched, ...); a "group" is one total of a family and its parts. The published models unpivot
    their counts into one row per (row, count) and apply secondary_suppression to the parts of each
    group. Every macro returns one SQL expression. -#}

{#- The level of the area an area lies in (NULL at England). -#}
{% macro geography_parent_level(level) -%}
    case {{ level }}
        when 'pcn' then 'sub_icb'
        when 'sub_icb' then 'icb'
        when 'icb' then 'region'
        when 'region' then 'england'
    end
{%- endmacro %}


{#- The code of the area an area lies in, from the row's ancestor codes (NULL at England). -#}
{% macro geography_parent_code(level, region_code='region_code', icb_code='icb_code', sub_icb_code='sub_icb_code') -%}
    case {{ level }}
        when 'pcn' then {{ sub_icb_code }}
        when 'sub_icb' then {{ icb_code }}
        when 'icb' then {{ region_code }}
        when 'region' then 'ENG'
    end
{%- endmacro %}


{#- A text key of the expressions (NULLs spelt out, so that two keys are equal only when every part is). -#}
{% macro suppression_key(exprs) -%}
    concat_ws('|'
    {%- for e in exprs %}, coalesce(cast({{ e }} as {{ dbt.type_string() }}), '~'){% endfor -%}
    )
{%- endmacro %}


{#- True for a part of a group that is withheld to protect the group's small counts. n: the part's
    unrounded count; whole_n: the group's total (NULL when the family is exact or the total is not
    published); group_key: the group; order_key: a tie-break unique within the group. A group "has
    small counts" when a part is in 1 .. suppress_below - 1 or, in a family whose parts need not add
    up to the total (an area and its parts, `all` and a subgroup), when the unpublished remainder
    (total minus parts) is. Then (a) its parts of 0 are withheld, so that which parts are empty does
    not tell how few people the others hold, and (b) unless its small counts together leave a
    reader at least suppress_below - 1 of doubt (sum of n - 1 over them), its smallest other part
    that is not 0 is withheld too. -#}
{% macro secondary_suppression(n, whole_n, group_key, order_key) -%}
    {%- set small = 'coalesce(' ~ is_small_count(n) ~ ', false)' -%}
    {%- set remainder = '(' ~ whole_n ~ ') - sum(' ~ n ~ ') over (partition by ' ~ group_key ~ ')' -%}
    {%- set remainder_small = 'coalesce(' ~ is_small_count(remainder) ~ ', false)' -%}
    (
        not {{ small }}
        and (
            count(case when {{ small }} then 1 end) over (partition by {{ group_key }}) > 0
            or {{ remainder_small }}
        )
        and (
            {{ n }} = 0
            or (
                coalesce(sum(case when {{ small }} then {{ n }} - 1 else 0 end) over (partition by {{ group_key }}), 0)
                + case when {{ remainder_small }} then {{ remainder }} - 1 else 0 end
                < {{ var('suppress_below') }} - 1
                and row_number() over (
                    partition by {{ group_key }}, {{ n }} > 0 and not {{ small }} order by {{ n }}, {{ order_key }}
                ) = 1
            )
        )
    )
{%- endmacro %}


{#- Select-list items of a published model: its `carried` columns, then each count NULL where the
    row's mart_disclosure_withheld entry lists it as withheld (otherwise the unrounded count, which
    round_count then rounds), then is_suppressed. Read from the aliases mart_rows and withheld. -#}
{% macro published_counts(table, carried) -%}
    {%- for c in carried %}
    mart_rows.{{ c }},
    {%- endfor %}
    {%- for c in disclosure_table(table).counts %}
    case
        when {{ dbt.position("'|" ~ c ~ "|'", 'withheld.withheld_counts') }} > 0 then null
        else mart_rows.{{ c }}
    end as {{ c }},
    {%- endfor %}
    withheld.is_suppressed
{%- endmacro %}


{#- Join condition of a published model's rows (alias mart_rows) with their mart_disclosure_withheld
    entry (alias withheld). -#}
{% macro withheld_row(table) -%}
    withheld.table_name = '{{ table }}'
    and withheld.row_id = {{ suppression_key(disclosure_table(table)['keys']) }}
{%- endmacro %}
