{#- Methods §9 as a data test on a published table: below England level no count of people or
    events is in the suppressed band (1 .. suppress_below - 1) or off the rounding base. Fails with
    one row per offending (row, column). `count_columns` names the published count columns;
    `geography_column` is NULL-safe: a table without a geography level column passes its literal level,
    e.g. geography_column="'pcn'". -#}
{% test disclosure_controlled(model, count_columns, geography_column='geography_level') %}
    {%- for c in count_columns %}
    select
        '{{ c }}' as count_column,
        cast({{ c }} as numeric) as offending_value
    from {{ model }}
    where
        coalesce({{ geography_column }}, '') <> 'england'
        and {{ c }} is not null
        and (
            {{ is_small_count(c) }}
            or mod(cast({{ c }} as numeric), {{ var('round_to') }}) <> 0
        )
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endtest %}
