{#- Methods §9 (v2): disclosure control of everything dashboards read, at every geography level,
    England included. Every macro returns one SQL expression; models keep their own CTEs and SELECT.
    Counts of people or events: 0 stays 0, 1 .. suppress_below - 1 becomes NULL (flagged by
    suppress_flag), anything larger is rounded to the nearest round_to. Means, rates and percentages
    come from the rounded numerator and denominator; model estimates are rounded to a few decimals and
    published only for groups of at least suppress_below people. -#}

{#- A count in the suppressed band (1 .. suppress_below - 1). -#}
{% macro is_small_count(expr) -%}
    ({{ expr }} >= 1 and {{ expr }} < {{ var('suppress_below') }})
{%- endmacro %}


{#- `expr` as an exact decimal rounded to 10 decimals, before any published rounding. A value the
    arithmetic meant to lie on a rounding boundary (-0.025, 2.5) arrives as a double a few ulps off
    it, and engines turn a double into a decimal with different digits (Postgres 15 significant,
    Spark 17), which would put it on either side. 10 places is far below anything published and far
    above double error for values under 10^4; the engines can then differ only for a value within
    1e-15 relative of 0.00000000005 below a boundary. -#}
{% macro snapped_decimal(expr) -%}
    round(cast({{ expr }} as {{ type_exact_decimal() }}), 10)
{%- endmacro %}


{#- `expr` as an exact decimal rounded to `places` decimals (half away from zero), the same on every
    engine (snapped_decimal first). -#}
{% macro round_published(expr, places) -%}
    round({{ snapped_decimal(expr) }}, {{ places }})
{%- endmacro %}


{#- `expr` rounded to a whole number, ties to even (what Postgres's round() of a double does here),
    after snapped_decimal, so that a value meant to end in .5 is a tie on every engine (Spark's
    round() of a double breaks ties away from zero). Exact decimal. -#}
{% macro round_half_even(expr) -%}
    {%- set snapped = snapped_decimal(expr) -%}
    case
        when {{ snapped }} - floor({{ snapped }}) = 0.5 then 2 * round({{ snapped }} / 2)
        else round({{ snapped }})
    end
{%- endmacro %}


{#- `expr` rounded to the nearest multiple of round_to (numeric), for totals that are not counts of
    people or events (sums of scores, sums of controls' means): rounded, never suppressed. -#}
{% macro round_total(expr) -%}
    (round({{ snapped_decimal(expr) }} / {{ var('round_to') }}) * {{ var('round_to') }})
{%- endmacro %}


{#- A published count of people or events (bigint). var disclosure_test_unrounded (tests only) leaves
    counts as they are, so that the disclosure tests fail and no table is swapped in. -#}
{% macro round_count(expr) -%}
    {%- if var('disclosure_test_unrounded', false) -%}
        cast({{ expr }} as bigint)
    {%- else -%}
        cast(case when {{ is_small_count(expr) }} then null else {{ round_total(expr) }} end as bigint)
    {%- endif -%}
{%- endmacro %}


{#- True when any of the counts (SQL expressions of unrounded counts) is suppressed on the row. -#}
{% macro suppress_flag(exprs) -%}
    {%- if exprs is string %}{% set exprs = [exprs] %}{% endif -%}
    {%- set checks = [] -%}
    {%- for e in exprs %}{% do checks.append(is_small_count(e)) %}{% endfor -%}
    coalesce({{ checks | join(' or ') }}, false)
{%- endmacro %}


{#- scale * published numerator / published denominator (double precision): NULL when either is
    suppressed, the denominator is 0, or person_count (an unrounded count, when given) is 1..7 or
    withheld (NULL).
    The numerator is rounded as a count (round_count) unless numerator_is_count is false (a sum of
    scores: round_total); the denominator as a count unless denominator_is_count is false (WTE). -#}
{% macro mean_from_rounded(numerator, denominator, scale=1, person_count=none, numerator_is_count=true,
                           denominator_is_count=true) -%}
    {%- set num = round_count(numerator) if numerator_is_count else round_total(numerator) -%}
    {%- set den = round_count(denominator) if denominator_is_count else denominator -%}
    cast(
        {%- if person_count is not none %}
        case when {{ person_count }} is null or {{ is_small_count(person_count) }} then null else
        {%- endif %}
        {{ ratio(scale ~ ' * cast(' ~ num ~ ' as ' ~ type_exact_decimal() ~ ')',
                 'nullif(cast(' ~ den ~ ' as ' ~ type_exact_decimal() ~ '), 0)') }}
        {%- if person_count is not none %}
        end
        {%- endif %}
        as {{ type_double() }}
    )
{%- endmacro %}


{#- A model estimate (DiD, ATT, their intervals, a p-value): rounded to dp decimals (2; 1 for
    percentages) and NULL unless the group has at least suppress_below people (n, unrounded). -#}
{% macro publish_estimate(expr, n, dp=2) -%}
    cast(
        case
            when {{ n }} >= {{ var('suppress_below') }}
                then {{ round_published(expr, dp) }}
        end
        as {{ type_double() }}
    )
{%- endmacro %}


{#- A bound of an interval around a point published from rounded figures: the published point plus
    the bound's distance from the exact point, rounded to dp and NULL for groups under
    suppress_below. An interval centred on the exact point would give the exact ratio back. -#}
{% macro interval_around(published_point, exact_point, exact_bound, n, dp=2) -%}
    {{ publish_estimate(
        '(' ~ published_point ~ ') + (' ~ exact_bound ~ ') - (' ~ exact_point ~ ')', n, dp
    ) }}
{%- endmacro %}
