{#- Methods §9 for the run charts: the published mean and limits of every series are what its
    published baseline points give (mean of the points, 2.66 x their mean moving range), so they carry
    nothing the points do not. Fails with every series whose statistics differ. -#}
with points as (
    select
        geography_level,
        geography_code,
        measure,
        point_no,
        value,
        mean,
        lower_limit,
        upper_limit,
        abs(value - lag(value) over (
            partition by geography_level, geography_code, measure order by point_no
        )) as moving_range
    from {{ ref('pub_mart_rollout_spc') }}
    where is_baseline
),

recomputed as (
    select
        geography_level,
        geography_code,
        measure,
        avg(value) as mean,
        avg(moving_range) as mean_moving_range,
        max(mean) as published_mean,
        max(lower_limit) as published_lower,
        max(upper_limit) as published_upper
    from points
    group by geography_level, geography_code, measure
)

select *
from recomputed
where
    abs(mean - published_mean) > 1e-9 * greatest(1, abs(mean))
    or abs(mean + 2.66 * mean_moving_range - published_upper) > 1e-9 * greatest(1, abs(published_upper))
    or abs(greatest(mean - 2.66 * mean_moving_range, 0) - published_lower) > 1e-9 * greatest(1, abs(mean))
