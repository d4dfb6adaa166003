{#- Methods §9: disclosure control of everything dashboards read.
    Below England level a count of people or events of 0 stays 0, 1..(suppress_below - 1) becomes NULL
    (with a flag), and anything larger is rounded to the nearest round_to. England-level rows are
    published as they are. Every macro takes the SQL expression giving the row's geography level so
    the same code serves marts of any grain. -#}

{% macro disclosure_is_england(geography_level) -%}
    ({{ geography_level }} = 'england')
{%- endmacro %}


{#- A count falls in the suppressed band (1 .. suppress_below - 1). -#}
{% macro is_small_count(col) -%}
    ({{ col }} >= 1 and {{ col }} < {{ var('suppress_below') }})
{%- endmacro %}


{% macro suppress_count(col, geography_level="geography_level") -%}
    case
        when {{ col }} is null then null
        when {{ disclosure_is_england(geography_level) }} then cast({{ col }} as bigint)
        when {{ col }} = 0 then 0
        when {{ is_small_count(col) }} then null
        else cast(round(cast({{ col }} as numeric) / {{ var('round_to') }}) * {{ var('round_to') }} as bigint)
    end
{%- endmacro %}


{#- True when any of the counts (a list of SQL expressions, which need not be published columns)
    is suppressed on this row. -#}
{% macro suppress_flag(cols, geography_level="geography_level") -%}
    {%- if cols is string %}{% set cols = [cols] %}{% endif -%}
    {%- set checks = [] -%}
    {%- for c in cols %}{% do checks.append(is_small_count(c)) %}{% endfor -%}
    coalesce(
        not {{ disclosure_is_england(geography_level) }}
        and ({{ checks | join(' or ') }}),
        false
    )
{%- endmacro %}


{#- A mean, median, rate or percentage whose person count is in the suppressed band is NULL. -#}
{% macro suppress_measure(value, person_count, geography_level="geography_level") -%}
    case
        when {{ disclosure_is_england(geography_level) }} then {{ value }}
        when {{ is_small_count(person_count) }} then null
        else {{ value }}
    end
{%- endmacro %}


{#- Percentage from the published (rounded) numerator and denominator: a suppressed numerator or
    denominator gives NULL, a zero denominator gives NULL. At England level the raw counts are used,
    which are the published ones there. -#}
{% macro suppressed_pct(numerator, denominator, geography_level="geography_level", scale=100) -%}
    cast(
        {{ scale }} * cast({{ suppress_count(numerator, geography_level) }} as numeric)
        / nullif({{ suppress_count(denominator, geography_level) }}, 0)
        as {{ dbt.type_float() }}
    )
{%- endmacro %}


{#- Rate from a published (rounded) count and a published denominator, e.g. referrals per 1,000
    population or caseload per WTE. The count is the person count of the rate: 1..7 gives NULL. -#}
{% macro suppressed_rate(count, denominator, multiplier=1, geography_level="geography_level",
                         round_denominator=true) -%}
    {%- set den = suppress_count(denominator, geography_level) if round_denominator else denominator -%}
    cast(
        {{ multiplier }} * cast({{ suppress_count(count, geography_level) }} as numeric)
        / nullif({{ den }}, 0)
        as {{ dbt.type_float() }}
    )
{%- endmacro %}
