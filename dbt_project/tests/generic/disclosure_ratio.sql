{#- Methods §9: a published mean, rate or percentage `column_name` = offset + scale * numerator /
    denominator must be what the published (rounded) figures give, so it tells a reader nothing they
    could invert to an exact count. numerator and denominator are SQL expressions of published
    columns; one of them may be left out when it is not published (a rounded total of scores, a
    rounded count of people with a baseline): the figure it implies must then be a multiple of
    round_to. When person_count (a published count) is suppressed the figure must be NULL. Fails with
    every offending row. -#}
{% test disclosure_ratio(model, column_name, numerator=none, denominator=none, scale=1, offset=0,
                         person_count=none) %}
{%- set x = '(cast(' ~ column_name ~ ' as numeric) - (' ~ offset ~ '))' -%}
{%- set base = var('round_to') -%}
select *
from {{ model }}
where
    {{ column_name }} is not null
    and (
        {%- if person_count is not none %}
        {{ person_count }} is null or
        {%- endif %}
        {%- if numerator is not none and denominator is not none %}
        ({{ numerator }}) is null or coalesce(({{ denominator }}) = 0, true)
        or abs({{ x }} * ({{ denominator }}) - {{ scale }} * ({{ numerator }}))
        > 1e-9 * greatest(1, abs({{ scale }} * ({{ numerator }})))
        {%- elif denominator is not none %}
        ({{ denominator }}) is null
        or abs({{ x }} * ({{ denominator }}) / {{ scale }} / {{ base }}
               - round({{ x }} * ({{ denominator }}) / {{ scale }} / {{ base }}))
        > 1e-9 * greatest(1, abs({{ x }} * ({{ denominator }}) / {{ scale }}))
        {%- else %}
        ({{ numerator }}) is null
        or ({{ x }} = 0 and ({{ numerator }}) <> 0)
        or ({{ x }} <> 0 and abs({{ scale }} * ({{ numerator }}) / {{ x }} / {{ base }}
                               - round({{ scale }} * ({{ numerator }}) / {{ x }} / {{ base }}))
            > 1e-9 * greatest(1, abs({{ scale }} * ({{ numerator }}) / {{ x }})))
        {%- endif %}
    )
{% endtest %}
