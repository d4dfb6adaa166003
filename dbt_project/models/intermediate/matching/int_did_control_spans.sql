-- Each control's follow-up for its index patient (methods §4 v2, censoring): the post window is
-- counted month by month, k = 1 .. W (month k = (t + (k-1) months, t + k months]), and a control
-- counts in month k only while still unreferred at its end. Months where the same controls count
-- are taken together as a span (span_start, span_end]: a span ends where one of the index patient's
-- controls stops counting, so an index row has one span per distinct stopping month (one, when no
-- control is referred in the window). Per control, span and measure: its events in the span
-- (post_count), its pre-window count's share of the span (pre_share = span months x pre_j / W), and
-- how many controls count in the span (n_counting). Only index rows with a control still counting
-- in month W are followed (the others are unmatched).
{{ config(pre_hook="{{ avoid_nested_loops() }}") }}
{%- set longest_window = cohort_window_months() | max %}

with controls as (
    select * from {{ ref('int_matched_controls') }}
),

timelines as (
    select * from {{ ref('int_patient_timelines') }}
),

month_numbers as (
    select k from (
        values
        {%- for k in range(1, longest_window + 1) %}
            ({{ k }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as v (k)
),

referred_in_window as (
    -- controls referred after t and by t + W months: the months they were still unreferred at the end of
    select
        c.index_key,
        c.window_months,
        c.control_key,
        count(m.k) as months_counted
    from controls as c
    left join month_numbers as m
        on
            c.window_months >= m.k
            and c.control_first_referral_date > {{ add_months('c.index_date', 'm.k') }}
    where c.control_first_referral_date <= c.post_end
    group by c.index_key, c.window_months, c.control_key
),

followed as (
    select
        c.*,
        coalesce(r.months_counted, c.window_months) as months_counted
    from controls as c
    left join referred_in_window as r
        on
            c.index_key = r.index_key
            and c.window_months = r.window_months
            and c.control_key = r.control_key
),

matched_rows as (
    -- index rows with a control counting in every month of the window
    select
        index_key,
        window_months
    from followed
    group by index_key, window_months
    having max(months_counted) = max(window_months)
),

span_ends as (
    select distinct
        f.index_key,
        f.window_months,
        f.months_counted as span_end
    from followed as f
    inner join matched_rows as m
        on
            f.index_key = m.index_key
            and f.window_months = m.window_months
    where f.months_counted > 0
),

spans as (
    select
        index_key,
        window_months,
        coalesce(lag(span_end) over (partition by index_key, window_months order by span_end), 0) as span_start,
        span_end
    from span_ends
),

counting as (
    -- every control still counting at the end of each span
    select
        s.index_key,
        s.window_months,
        s.span_start,
        s.span_end,
        f.control_key,
        f.control_practice_code,
        f.index_date,
        f.pre_start,
        count(*) over (partition by s.index_key, s.window_months, s.span_end) as n_counting
    from spans as s
    inner join followed as f
        on
            s.index_key = f.index_key
            and s.window_months = f.window_months
            and s.span_end <= f.months_counted
),

counted as (
    select
        c.index_key,
        c.window_months,
        c.span_start,
        c.span_end,
        c.control_key,
        c.control_practice_code,
        c.n_counting,
    {%- for m in demand_measures() %}
        {{ timeline_pre_total('t', m, 'c.pre_start', 'c.index_date') }} as pre_{{ m }},
        (
            {{ timeline_upto('t', m, add_months('c.index_date', 'c.span_end')) }}
            - {{ timeline_upto('t', m, add_months('c.index_date', 'c.span_start')) }}
        ) as post_{{ m }}
        {{- ',' if not loop.last }}
    {%- endfor %}
    from counting as c
    left join timelines as t on c.control_key = t.patient_key
)

{%- for m in demand_measures() %}

    select
        index_key,
        window_months,
        control_key,
        control_practice_code,
        span_start,
        span_end,
        n_counting,
        '{{ m }}' as measure,
        {{ ratio(
            'cast(coalesce(pre_' ~ m ~ ', 0) as ' ~ dbt.type_numeric() ~ ') * (span_end - span_start)', 'window_months'
        ) }} as pre_share,
        cast(coalesce(post_{{ m }}, 0) as {{ dbt.type_numeric() }}) as post_count
    from counted
    {%- if not loop.last %}
        union all
    {%- endif %}
{%- endfor %}
