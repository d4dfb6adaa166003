{{ config(alias='mart_rollout_spc') }}
-- Published twin of marts.mart_rollout_spc (methods §9). The mart charts published values only (counts
-- rounded or suppressed, rates from the rounded counts) and computes its mean and limits from them, so
-- nothing here rests on an exact count; the twin is where the disclosure tests run and readers read.
with mart as (
    select * from {{ ref('mart_rollout_spc') }}
),

located as (
    -- England, region and ICB rows: an ICB row's ICB is itself, other rows have none
    select
        *,
        case when geography_level = 'icb' then geography_code end as icb_code
    from mart
),

named as (
    select
        located.*,
        {{ geography_ancestor_names() }}
    from located
    {{ geography_name_joins('located.region_code', 'located.icb_code') }}
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    icb_code,
    region_name,
    icb_name,
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
from named
