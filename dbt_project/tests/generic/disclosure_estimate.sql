{#- Methods §9: a model estimate (or median) `column_name` is published rounded to `dp` decimals and
    only for groups of at least suppress_below people: NULL when the published group size `n` is
    NULL (suppressed) or below suppress_below. Fails with every offending row. -#}
{% test disclosure_estimate(model, column_name, n, dp=2) %}
select *
from {{ model }}
where
    {{ column_name }} is not null
    and (
        {{ n }} is null
        or {{ n }} < {{ var('suppress_below') }}
        or abs(cast({{ column_name }} as numeric) * {{ 10 ** dp }}
               - round(cast({{ column_name }} as numeric) * {{ 10 ** dp }})) > 1e-6
    )
{% endtest %}
