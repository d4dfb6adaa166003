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


{#- The CTEs that turn the event source CTEs <prefix>appointments, <prefix>attendances and
    <prefix>admissions (event_sources) into one row per patient, ending with <prefix>timelines
    (patient_key, <m>_dates for every measure, <m>_running for valued ones): one pass per source.
    Without `with_timelines`, it stops at the per-source CTEs <prefix><source>_dates (a row per
    patient with rows in the source, the counted measures' dates unsorted) and <prefix><m>_totals. -#}
{% macro timeline_ctes(prefix='', with_timelines=true) -%}
{%- set counted = [] %}
{%- set valued = [] %}
{%- for m in event_measures() %}
    {%- do (valued if 'value' in m else counted).append(m) %}
{%- endfor %}
{%- set sources = ['appointments', 'attendances', 'admissions'] %}
{%- for source in sources %}
    {%- set cols = event_source_columns(source) %}
{{ prefix }}{{ source }}_dates as (
    select
        patient_key,
    {%- for m in counted if m.source == source %}
        {{ date_array_where(cols.date, m.condition) }} as {{ m.measure }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ prefix }}{{ source }}
    group by patient_key
),
{% endfor %}
{%- for m in valued %}
    {%- set cols = event_source_columns(m.source) %}
{{ prefix }}{{ m.measure }}_events as (
    select
        patient_key,
        {{ cols.date }} as event_date,
        {{ cols.id }} as event_id,
        sum({{ m['value'] }}) over (
            partition by patient_key order by {{ cols.date }}, {{ cols.id }} rows unbounded preceding
        ) as running_value
    from {{ prefix }}{{ m.source }}
    where {{ m.condition }}
),

{{ prefix }}{{ m.measure }}_totals as (
    select
        patient_key,
        {{ running_total_array('event_date', 'event_date', 'event_id') }} as event_dates,
        {{ running_total_array('cast(running_value as ' ~ dbt.type_bigint() ~ ')', 'event_date', 'event_id') }}
            as running_values
    from {{ prefix }}{{ m.measure }}_events
    group by patient_key
){{ ',' if with_timelines or not loop.last }}
{% endfor %}
{%- if with_timelines %}
{{ prefix }}patients as (
    {%- for source in sources %}
    select patient_key from {{ prefix }}{{ source }}_dates
        {%- if not loop.last %}
    union
        {%- endif %}
    {%- endfor %}
),

{{ prefix }}timelines as (
    select
        p.patient_key,
        {%- for m in counted %}
        {{ sort_date_array(prefix ~ m.source ~ '_dates.' ~ m.measure) }} as {{ m.measure }}_dates,
        {%- endfor %}
        {%- for m in valued %}
        {{ prefix }}{{ m.measure }}_totals.event_dates as {{ m.measure }}_dates,
        {{ prefix }}{{ m.measure }}_totals.running_values as {{ m.measure }}_running{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ prefix }}patients as p
    {%- for source in sources %}
    left join {{ prefix }}{{ source }}_dates on p.patient_key = {{ prefix }}{{ source }}_dates.patient_key
    {%- endfor %}
    {%- for m in valued %}
    left join {{ prefix }}{{ m.measure }}_totals on p.patient_key = {{ prefix }}{{ m.measure }}_totals.patient_key
    {%- endfor %}
)
{%- endif %}
{%- endmacro %}

{#- Names of every timeline date array column (<m>_dates for each measure, counted ones first), or
    of one source's measures only. -#}
{% macro timeline_date_columns(source=none) -%}
    {%- set cols = [] -%}
    {%- set measures = event_measures() | selectattr('source', 'equalto', source) | list
        if source else event_measures() -%}
    {%- for m in measures if 'value' not in m %}{% do cols.append(m.measure ~ '_dates') %}{% endfor -%}
    {%- for m in measures if 'value' in m %}{% do cols.append(m.measure ~ '_dates') %}{% endfor -%}
    {{ return(cols) }}
{%- endmacro %}

{#- The latest date on a timeline row t (NULL when it holds none), or on one source's arrays. -#}
{% macro timeline_last_date(t, source=none) -%}
    {%- set parts = [] -%}
    {%- for c in timeline_date_columns(source) %}{% do parts.append(last_element(t ~ '.' ~ c)) %}{% endfor -%}
    greatest({{ parts | join(', ') }})
{%- endmacro %}

{#- Last element of a one-dimensional array (NULL when NULL or empty). -#}
{% macro last_element(arr) -%}
    {{ return(adapter.dispatch('last_element', 'spw')(arr)) }}
{%- endmacro %}

{% macro default__last_element(arr) -%}
    {{ arr }}[array_upper({{ arr }}, 1)]
{%- endmacro %}

{% macro spark__last_element(arr) -%}
    element_at({{ arr }}, -1)
{%- endmacro %}

{#- Two arrays one after the other (a NULL counts as empty). -#}
{% macro append_array(a, b) -%}
    {{ return(adapter.dispatch('append_array', 'spw')(a, b)) }}
{%- endmacro %}

{% macro default__append_array(a, b) -%}
    array_cat({{ a }}, {{ b }})
{%- endmacro %}

{% macro spark__append_array(a, b) -%}
    coalesce(concat({{ a }}, {{ b }}), {{ a }}, {{ b }})
{%- endmacro %}

{#- Every element of an integer array plus `offset`. -#}
{% macro shift_array(arr, offset) -%}
    {{ return(adapter.dispatch('shift_array', 'spw')(arr, offset)) }}
{%- endmacro %}

{% macro default__shift_array(arr, offset) -%}
    case when {{ arr }} is not null then array(select x + {{ offset }} from unnest({{ arr }}) with ordinality as u (x, i) order by i) end
{%- endmacro %}

{% macro spark__shift_array(arr, offset) -%}
    transform({{ arr }}, x -> x + {{ offset }})
{%- endmacro %}
