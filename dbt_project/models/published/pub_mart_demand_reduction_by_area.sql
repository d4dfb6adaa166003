{{ config(alias='mart_demand_reduction_by_area') }}
-- published.mart_demand_reduction as the dashboards read it: every row and column of the
-- disclosure-controlled table, plus the ICB, sub-ICB and PCN codes its area lies in, so the
-- geography filters narrow it, and the measure in words. Built from the published twin, so
-- suppression is inherited, not redone.
with area_rows as (
    {{ with_geography_ancestors(ref('pub_mart_demand_reduction')) }}
),

measure_labels as (
    select
        measure,
        measure_label
    from {{ ref('ref_measure_labels') }}
)

select
    area_rows.*,
    measure_labels.measure_label
from area_rows
left join measure_labels
    on area_rows.measure = measure_labels.measure
