{#- Patient timelines: a patient's events of one measure as a sorted array of dates (and, for a
    measure whose events carry a value, the running totals of the values), so a window's count is
    two binary searches instead of a join to every event. -#}

{#- Aggregate: the dates of the group's rows that meet `condition`, unsorted (so the planner can hash
    the groups); NULL when none does. -#}
{% macro date_array_where(date_col, condition) -%}
    {{ return(adapter.dispatch('date_array_where', 'spw')(date_col, condition)) }}
{%- endmacro %}

{% macro default__date_array_where(date_col, condition) -%}
    array_agg({{ date_col }}) filter (where {{ condition }})
{%- endmacro %}

{#- collect_list gives an empty array where array_agg gives NULL. -#}
{% macro spark__date_array_where(date_col, condition) -%}
    case
        when count(case when {{ condition }} then 1 end) > 0
            then collect_list(case when {{ condition }} then {{ date_col }} end)
    end
{%- endmacro %}

{#- An array of dates sorted ascending, duplicates kept (sorting each small array is cheaper than
    sorting every event by its 64-character patient key). -#}
{% macro sort_date_array(dates) -%}
    {{ return(adapter.dispatch('sort_date_array', 'spw')(dates)) }}
{%- endmacro %}

{% macro default__sort_date_array(dates) -%}
    case when {{ dates }} is not null then array(select d from unnest({{ dates }}) as d order by d) end
{%- endmacro %}

{% macro spark__sort_date_array(dates) -%}
    array_sort({{ dates }})
{%- endmacro %}

{#- Aggregate: `value_col` of the group's rows in date order (ties by `tie_col`). -#}
{% macro ordered_array(value_col, date_col, tie_col) -%}
    {{ return(adapter.dispatch('ordered_array', 'spw')(value_col, date_col, tie_col)) }}
{%- endmacro %}

{% macro default__ordered_array(value_col, date_col, tie_col) -%}
    array_agg({{ value_col }} order by {{ date_col }}, {{ tie_col }})
{%- endmacro %}

{#- Structs sort field by field; the lambda variable's name cannot be a table alias of the query
    (Spark would read the alias). -#}
{% macro spark__ordered_array(value_col, date_col, tie_col) -%}
    transform(
        array_sort(collect_list(named_struct('d', {{ date_col }}, 't', {{ tie_col }}, 'v', {{ value_col }}))),
        spw_elem -> spw_elem.v
    )
{%- endmacro %}

{#- Number of dates in `dates` on or before `day` (binary search; 0 for a NULL or empty array). -#}
{% macro dates_upto(dates, day) -%}
    {{ return(adapter.dispatch('dates_upto', 'spw')(dates, day)) }}
{%- endmacro %}

{% macro default__dates_upto(dates, day) -%}
    coalesce(width_bucket({{ day }}, {{ dates }}), 0)
{%- endmacro %}

{#- A scan rather than a binary search (no width_bucket over an array on Spark); size(NULL) is -1. -#}
{% macro spark__dates_upto(dates, day) -%}
    coalesce(size(filter(coalesce({{ dates }}, array()), spw_date -> spw_date <= {{ day }})), 0)
{%- endmacro %}

{#- Element k (1-based, as on Postgres) of an array; NULL when k is outside it (k = 0 included). -#}
{% macro array_at(arr, k) -%}
    {{ return(adapter.dispatch('array_at', 'spw')(arr, k)) }}
{%- endmacro %}

{% macro default__array_at(arr, k) -%}
    {{ arr }}[{{ k }}]
{%- endmacro %}

{#- Spark's own subscript is 0-based; element_at is 1-based but fails on 0. -#}
{% macro spark__array_at(arr, k) -%}
    case when {{ k }} >= 1 then element_at({{ arr }}, {{ k }}) end
{%- endmacro %}

{#- The day before a date, as a date. -#}
{% macro day_before(day) -%}
    ({{ day }} - 1)
{%- endmacro %}

{#- Count of `dates` in [from_day, to_day) (the matching bands count events). -#}
{% macro dates_between(dates, from_day, to_day) -%}
    ({{ dates_upto(dates, day_before(to_day)) }} - {{ dates_upto(dates, day_before(from_day)) }})
{%- endmacro %}

{#- Total of measure m's events on or before `day`: their count, or the running total when the
    measure carries values (t = alias of an int_patient_timelines row). -#}
{% macro timeline_upto(t, measure, day) -%}
    {%- if measure in valued_measures() -%}
        coalesce({{ array_at(t ~ '.' ~ measure ~ '_running', dates_upto(t ~ '.' ~ measure ~ '_dates', day)) }}, 0)
    {%- else -%}
        {{ dates_upto(t ~ '.' ~ measure ~ '_dates', day) }}
    {%- endif -%}
{%- endmacro %}

{#- Methods §1 windows over a timeline: pre = [pre_start, index), post = (index, post_end]. -#}
{% macro timeline_pre_total(t, measure, pre_start, index_date) -%}
    ({{ timeline_upto(t, measure, day_before(index_date)) }} - {{ timeline_upto(t, measure, day_before(pre_start)) }})
{%- endmacro %}

{% macro timeline_post_total(t, measure, index_date, post_end) -%}
    ({{ timeline_upto(t, measure, post_end) }} - {{ timeline_upto(t, measure, index_date) }})
{%- endmacro %}
