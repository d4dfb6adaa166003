{#- Equity dimensions (methods §8) as text values, shared by the equity mart. -#}

{#- IMD quintile 1 (most deprived) .. 5 from the decile: ceil(decile / 2), as methods §4. -#}
{% macro equity_imd_quintile(imd_decile) -%}
    coalesce(cast(cast(ceil({{ imd_decile }} / 2.0) as integer) as {{ dbt.type_string() }}), 'unknown')
{%- endmacro %}

{#- 10-year age bands with 80+ as one band, as methods §4. -#}
{% macro equity_age_band(age) -%}
    case
        when {{ age }} is null or {{ age }} < 0 then 'unknown'
        when {{ age }} >= 80 then '80+'
        else cast(cast(floor({{ age }} / 10) * 10 as integer) as {{ dbt.type_string() }})
            || '-' || cast(cast(floor({{ age }} / 10) * 10 + 9 as integer) as {{ dbt.type_string() }})
    end
{%- endmacro %}

{#- PERSON STATED GENDER CODE. -#}
{% macro equity_sex(sex) -%}
    case {{ sex }}
        when '1' then 'male'
        when '2' then 'female'
        when '9' then 'indeterminate'
        when 'X' then 'not_known'
        else 'unknown'
    end
{%- endmacro %}

{#- NHS ethnic category (one letter) to the five ONS high-level groups; Z (not stated), 99 (not known)
    and empty become not_stated. -#}
{% macro equity_ethnic_group(ethnic_category) -%}
    case
        when {{ ethnic_category }} in ('A', 'B', 'C') then 'white'
        when {{ ethnic_category }} in ('D', 'E', 'F', 'G') then 'mixed'
        when {{ ethnic_category }} in ('H', 'J', 'K', 'L') then 'asian'
        when {{ ethnic_category }} in ('M', 'N', 'P') then 'black'
        when {{ ethnic_category }} in ('R', 'S') then 'other'
        else 'not_stated'
    end
{%- endmacro %}
