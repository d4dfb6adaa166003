{{ config(alias='mart_rollout_monthly_series') }}
-- Published twin of marts.mart_rollout_monthly_series (methods §9). The mart is made of published
-- figures already (counts rounded or suppressed, rates from the rounded counts: the run charts'
-- limits are computed on them); the twin adds the ICB code for the dashboards' filters and is where
-- the disclosure tests run and readers read.
with mart as (
    select * from {{ ref('mart_rollout_monthly_series') }}
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    case when geography_level = 'icb' then geography_code end as icb_code,
    measure,
    month,
    value,
    referrals,
    registered_population,
    link_worker_wte,
    is_suppressed
from mart
