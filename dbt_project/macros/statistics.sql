{#- Statistics the marts share. -#}

{#- Sample standard deviation from a count n, sum s and sum of squares ss (NULL when n < 2), so
    groups can be summed from cells before the spread is taken. The same formula as stddev_samp,
    exact in numeric until the last division. -#}
{% macro sample_sd_from_sums(n, s, ss) -%}
    {{ return(adapter.dispatch('sample_sd_from_sums', 'spw')(n, s, ss)) }}
{%- endmacro %}

{% macro default__sample_sd_from_sums(n, s, ss) -%}
    case
        when {{ n }} >= 2
            then sqrt(({{ n }} * {{ ss }} - {{ s }} * {{ s }}) / ({{ n }} * ({{ n }} - 1)))
    end
{%- endmacro %}

{#- Spark keeps 6 decimal places of a product of two wide decimals: the spread is taken in double. -#}
{% macro spark__sample_sd_from_sums(n, s, ss) -%}
    case
        when {{ n }} >= 2
            then sqrt(
                (cast({{ n }} as double) * cast({{ ss }} as double) - cast({{ s }} as double) * cast({{ s }} as double))
                / (cast({{ n }} as double) * (cast({{ n }} as double) - 1))
            )
    end
{%- endmacro %}

{#- The 97.5% quantile of Student's t with `df` degrees of freedom (two-sided 95% intervals), by the
    Cornish-Fisher expansion around the normal quantile (Abramowitz and Stegun 26.7.5): within 3e-7
    of the exact value from 19 degrees of freedom up, where the marts use it. -#}
{% macro t_quantile_975(df) -%}
    {%- set z = 1.959963984540054 -%}
    (
        {{ z }}
        + {{ (z ** 3 + z) / 4 }} / ({{ df }})
        + {{ (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96 }} / power({{ df }}, 2)
        + {{ (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384 }} / power({{ df }}, 3)
        + {{ (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160 }} / power({{ df }}, 4)
    )
{%- endmacro %}
