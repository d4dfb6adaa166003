{{ config(alias='mart_rollout_spc') }}
-- Published twin of marts.mart_rollout_spc (methods §9). The mart charts published values only (counts
-- rounded or suppressed, rates from the rounded counts) and computes its mean and limits from them, so
-- nothing here rests on an exact count; the twin is where the disclosure tests run and readers read.
with mart as (
    select * from {{ ref('mart_rollout_spc') }}
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    case when geography_level = 'icb' then geography_code end as icb_code,
    measure,
    month,
    point_no,
    is_baseline,
    value,
    referrals,
    registered_population,
    link_worker_wte,
    mean,
    mean_moving_range,
    lower_limit,
    upper_limit,
    outside_limits,
    in_run,
    in_trend,
    is_special_cause,
    special_cause_direction,
    variation,
    is_suppressed
from mart
