-- Statistical process control of the monthly rollout series, the NHS "Making Data Count" way (an XmR
-- chart): per series (geography, measure) the mean and process limits mean +- 2.66 x mean moving
-- range, both from a baseline of the first var spc_baseline_months (12) points, and special-cause
-- flags on every point: outside the limits; a run of var spc_run_points (7) or more consecutive points
-- on one side of the mean; a trend of var spc_trend_points (7) or more consecutive points each higher
-- (or each lower) than the one before. Runs and trends are gaps-and-islands over the point number.
-- Points are the published (disclosure-controlled) values of mart_rollout_monthly_series; a series
-- starts at its first non-zero value (before the service started there is nothing to chart) and a
-- suppressed month is left out. A series shorter than its baseline gets no mean, limits or flags.
{%- set baseline = var('spc_baseline_months') | int %}
{%- set run_points = var('spc_run_points') | int %}
{%- set trend_points = var('spc_trend_points') | int %}
with series as (
    select * from {{ ref('mart_rollout_monthly_series') }}
),

started as (
    select
        geography_level,
        geography_code,
        measure,
        min(month) as first_month
    from series
    where value > 0
    group by geography_level, geography_code, measure
),

points as (
    select
        s.*,
        row_number() over (
            partition by s.geography_level, s.geography_code, s.measure order by s.month
        ) as point_no
    from series as s
    inner join started as f
        on
            s.geography_level = f.geography_level
            and s.geography_code = f.geography_code
            and s.measure = f.measure
            and s.month >= f.first_month
    where s.value is not null
),

moving_ranges as (
    select
        *,
        abs(value - lag(value) over (
            partition by geography_level, geography_code, measure order by point_no
        )) as moving_range,
        sign(value - lag(value) over (
            partition by geography_level, geography_code, measure order by point_no
        )) as step
    from points
),

baselines as (
    select
        geography_level,
        geography_code,
        measure,
        avg(value) as mean,
        avg(moving_range) as mean_moving_range
    from moving_ranges
    where point_no <= {{ baseline }}
    group by geography_level, geography_code, measure
    having count(*) = {{ baseline }}
),

sided as (
    select
        m.*,
        b.mean,
        b.mean_moving_range,
        b.mean + 2.66 * b.mean_moving_range as upper_limit,
        -- every charted measure is a count or a rate of counts: a limit below 0 means 0
        greatest(b.mean - 2.66 * b.mean_moving_range, 0) as lower_limit,
        sign(m.value - b.mean) as side
    from moving_ranges as m
    inner join baselines as b
        on
            m.geography_level = b.geography_level
            and m.geography_code = b.geography_code
            and m.measure = b.measure
),

islands as (
    -- consecutive points with the same side of the mean (or the same step direction) share an island
    select
        *,
        point_no - row_number() over (
            partition by geography_level, geography_code, measure, side order by point_no
        ) as side_island,
        point_no - row_number() over (
            partition by geography_level, geography_code, measure, step order by point_no
        ) as step_island
    from sided
),

island_lengths as (
    select
        *,
        count(*) over (partition by geography_level, geography_code, measure, side, side_island) as run_length,
        -- steps in this point's island of equal steps; a trend of N points is N - 1 equal steps
        count(*) over (partition by geography_level, geography_code, measure, step, step_island) as step_run
    from islands
),

flagged as (
    select
        *,
        (value > upper_limit or value < lower_limit) as outside_limits,
        (side != 0 and run_length >= {{ run_points }}) as in_run,
        -- a point is in a trend when the steps into it, or the steps out of it, make a long enough run
        -- (the first point of a trend has no step into it)
        coalesce(step != 0 and step_run >= {{ trend_points - 1 }}, false)
        or coalesce(
            lead(step) over (partition by geography_level, geography_code, measure order by point_no) != 0
            and lead(step_run) over (
                partition by geography_level, geography_code, measure order by point_no
            ) >= {{ trend_points - 1 }},
            false
        ) as in_trend,
        coalesce(
            case when step != 0 and step_run >= {{ trend_points - 1 }} then step end,
            lead(step) over (partition by geography_level, geography_code, measure order by point_no)
        ) as trend_direction
    from island_lengths
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    measure,
    month,
    cast(point_no as integer) as point_no,
    point_no <= {{ baseline }} as is_baseline,
    value,
    referrals,
    registered_population,
    link_worker_wte,
    is_suppressed,
    cast(mean as {{ type_double() }}) as mean,
    cast(mean_moving_range as {{ type_double() }}) as mean_moving_range,
    cast(lower_limit as {{ type_double() }}) as lower_limit,
    cast(upper_limit as {{ type_double() }}) as upper_limit,
    outside_limits,
    in_run,
    in_trend,
    outside_limits or in_run or in_trend as is_special_cause,
    cast(case
        when value > upper_limit then 'high'
        when value < lower_limit then 'low'
        when in_run and side > 0 then 'high'
        when in_run and side < 0 then 'low'
        when in_trend and trend_direction > 0 then 'high'
        when in_trend and trend_direction < 0 then 'low'
    end as {{ dbt.type_string() }}) as special_cause_direction,
    cast(case
        when value > upper_limit then 'Special cause: above the upper limit'
        when value < lower_limit then 'Special cause: below the lower limit'
        when in_run and side > 0 then 'Special cause: run above the mean'
        when in_run and side < 0 then 'Special cause: run below the mean'
        when in_trend and trend_direction > 0 then 'Special cause: rising trend'
        when in_trend and trend_direction < 0 then 'Special cause: falling trend'
        else 'Common cause'
    end as {{ dbt.type_string() }}) as variation
from flagged
