{#- Methods §1 windows: which W a build uses. -#}

{#- var window_months as a sorted list of integers (accepts a list, a single number or "6,12"). -#}
{% macro standard_window_months() -%}
    {%- set configured = var('window_months', [6, 12]) -%}
    {%- if configured is number -%}
        {%- set configured = [configured] -%}
    {%- elif configured is string -%}
        {%- set configured = configured.split(',') -%}
    {%- endif -%}
    {%- set months = [] -%}
    {%- for w in configured -%}
        {%- if (w | int) not in months -%}{%- do months.append(w | int) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(months | sort) }}
{%- endmacro %}

{#- Windows to build: var window_months for the standard design, plus 12 for the two replications. -#}
{% macro cohort_window_months() -%}
    {%- set months = standard_window_months() -%}
    {%- if 12 not in months -%}{%- do months.append(12) -%}{%- endif -%}
    {{ return(months | sort) }}
{%- endmacro %}
