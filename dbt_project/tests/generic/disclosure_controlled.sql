{#- Methods §9 as a data test on a published table: at every geography level, England included, no
    count of people or events is in the suppressed band (1 .. suppress_below - 1) or off the rounding
    base. Fails with one row per offending (row, column). `count_columns` names the published count
    columns. -#}
{% test disclosure_controlled(model, count_columns) %}
    {%- for c in count_columns %}
    select
        '{{ c }}' as count_column,
        cast({{ c }} as numeric) as offending_value
    from {{ model }}
    where
        {{ c }} is not null
        and (
            {{ is_small_count(c) }}
            or mod(cast({{ c }} as numeric), {{ var('round_to') }}) <> 0
        )
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endtest %}
