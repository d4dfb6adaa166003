{#- Patient timelines: each patient's events of one measure as a sorted array of dates (and, for
    measures whose events carry a value other than 1, the running totals of those values), so a
    window's count is two binary searches instead of a join to every event. Postgres-specific SQL
    stays in the default__ implementations; spark__ versions show the port. -#}

{#- Aggregate: the dates of a group, in no particular order (lets the planner hash the groups). -#}
{% macro date_array(date_col) -%}
    {{ return(adapter.dispatch('date_array', 'spw')(date_col)) }}
{%- endmacro %}

{% macro default__date_array(date_col) -%}
    array_agg({{ date_col }})
{%- endmacro %}

{% macro spark__date_array(date_col) -%}
    collect_list({{ date_col }})
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

{#- Aggregate: running totals of value in date order (element i = sum of the first i values). -#}
{% macro running_total_array(running_col, date_col, tie_col) -%}
    {{ return(adapter.dispatch('running_total_array', 'spw')(running_col, date_col, tie_col)) }}
{%- endmacro %}

{% macro default__running_total_array(running_col, date_col, tie_col) -%}
    array_agg({{ running_col }} order by {{ date_col }}, {{ tie_col }})
{%- endmacro %}

{#- Number of dates in `dates` on or before `day` (binary search; 0 for a NULL or empty array). -#}
{% macro dates_upto(dates, day) -%}
    {{ return(adapter.dispatch('dates_upto', 'spw')(dates, day)) }}
{%- endmacro %}

{% macro default__dates_upto(dates, day) -%}
    coalesce(width_bucket({{ day }}, {{ dates }}), 0)
{%- endmacro %}

{% macro spark__dates_upto(dates, day) -%}
    coalesce(size(filter({{ dates }}, d -> d <= {{ day }})), 0)
{%- endmacro %}

{#- The day before a date, as a date. -#}
{% macro day_before(day) -%}
    {{ return(adapter.dispatch('day_before', 'spw')(day)) }}
{%- endmacro %}

{% macro default__day_before(day) -%}
    ({{ day }} - 1)
{%- endmacro %}

{% macro spark__day_before(day) -%}
    date_sub({{ day }}, 1)
{%- endmacro %}

{#- Total of measure m's events on or before `day`: their count, or the running total when the
    measure carries values (t = alias of an int_patient_timelines row). -#}
{% macro timeline_upto(t, measure, day) -%}
    {%- if measure in valued_measures() -%}
        coalesce({{ t }}.{{ measure }}_running[{{ dates_upto(t ~ '.' ~ measure ~ '_dates', day) }}], 0)
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

{#- Count of `dates` in [from_day, to_day) (for the matching bands, whose measures count events). -#}
{% macro dates_between(dates, from_day, to_day) -%}
    ({{ dates_upto(dates, day_before(to_day)) }} - {{ dates_upto(dates, day_before(from_day)) }})
{%- endmacro %}

{#- Aggregate: the dates of the group's rows that meet `condition`, in no particular order; NULL when
    none does. -#}
{% macro date_array_where(date_col, condition) -%}
    {{ return(adapter.dispatch('date_array_where', 'spw')(date_col, condition)) }}
{%- endmacro %}

{% macro default__date_array_where(date_col, condition) -%}
    array_agg({{ date_col }}) filter (where {{ condition }})
{%- endmacro %}

{% macro spark__date_array_where(date_col, condition) -%}
    nullif(collect_list(case when {{ condition }} then {{ date_col }} end), array())
{%- endmacro %}
