{{ config(alias='mart_event_study_bounds') }}
-- The event study of published.mart_staggered_did (methods §4b) as rows for Superset's box plot,
-- which draws a box from the 25th to the 75th percentile of a group's rows and whiskers to their
-- minimum and maximum: per event month five rows (seed ref_interval_rows: uniform band low,
-- interval low, estimate, interval high, band high) give a box that is the pointwise 95% interval,
-- a line at the estimate and whiskers to the uniform band. Where the band is missing or narrower
-- than the interval the whisker stops at the interval (least/greatest). England, region and ICB,
-- the levels the dashboards draw. Built from the published table only, values as published (2 dp).
with event_study as (
    select *
    from {{ ref('pub_mart_staggered_did_by_area') }}
    where estimate = 'event_study' and geography_level in ('england', 'region', 'icb')
)

select
    event_study.geography_level,
    event_study.geography_code,
    event_study.geography_name,
    event_study.region_code,
    event_study.icb_code,
    event_study.sub_icb_code,
    event_study.pcn_code,
    event_study.region_name,
    event_study.icb_name,
    event_study.sub_icb_name,
    event_study.pcn_name,
    event_study.cohort_fy,
    event_study.population,
    event_study.measure,
    event_study.measure_label,
    event_study.event_month,
    case
        when event_study.event_month <= -1 - {{ var('sdid_anticipation_months') }} then 'placebo'
        when event_study.event_month < 0 then 'anticipation'
        else 'after'
    end as event_phase,
    event_study.n_treated,
    bounds.bound,
    bounds.bound_order,
    case bounds.bound
        when 'outer_low' then least(event_study.band_low, event_study.att_ci_low)
        when 'lower' then event_study.att_ci_low
        when 'estimate' then event_study.att
        when 'upper' then event_study.att_ci_high
        else greatest(event_study.band_high, event_study.att_ci_high)
    end as bound_value
from event_study
cross join {{ ref('ref_interval_rows') }} as bounds
