{#- Methods §6, ARRS link-worker entitlement (GP contract reform 2019), in WTE, from a PCN's
    registered population: < 30,000 -> 0; 30,000 to 100,000 -> 1;
    above 100,000 -> 2 + floor((population - 100,000) / 50,000). -#}
{% macro arrs_entitlement(population) -%}
    cast(
        case
            when {{ population }} is null then null
            when {{ population }} < 30000 then 0
            when {{ population }} <= 100000 then 1
            else 2 + floor(cast({{ population }} - 100000 as {{ type_exact_decimal() }}) / 50000)
        end as {{ type_exact_decimal() }}
    )
{%- endmacro %}
