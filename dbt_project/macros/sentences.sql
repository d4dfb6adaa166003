{#- A signed figure in words, rounded to `places` decimal places where `places` is a column
    (ref_measure_labels.sentence_decimals). Spark's round() takes only a constant scale, so each
    place count the seed may hold is its own branch; each branch also turns its figure into text,
    because a CASE over decimals of different scales takes the widest on Spark ("1.20" for "1.2").
    The sign follows the printed figure, so a value that rounds to 0 reads `zero`. -#}
{% macro figure_in_words(value, places, below, above, zero, max_places=3) -%}
    case {{ places }}
    {%- for p in range(max_places + 1) %}
        {%- set shown = 'round(' ~ value ~ ', ' ~ p ~ ')' %}
        when {{ p }} then
            case
                when {{ shown }} < 0 then cast(abs({{ shown }}) as {{ dbt.type_string() }}) || {{ below }}
                when {{ shown }} > 0 then cast({{ shown }} as {{ dbt.type_string() }}) || {{ above }}
                else {{ zero }}
            end
    {%- endfor %}
    end
{%- endmacro %}
