{{ config(alias='mart_staggered_did_by_area') }}
-- published.mart_staggered_did as the dashboards read it: every row and column of the
-- disclosure-controlled table, plus the ICB, sub-ICB and PCN codes its area lies in (so the
-- geography filters narrow it) and the measure in words. Built from the published twin only, so
-- suppression is inherited, not redone.
with area_rows as (
    {{ with_geography_ancestors(ref('pub_mart_staggered_did')) }}
),

measure_labels as (
    select
        measure,
        measure_label,
        display_order
    from {{ ref('ref_measure_labels') }}
)

select
    area_rows.*,
    measure_labels.measure_label,
    measure_labels.display_order as measure_order
from area_rows
left join measure_labels
    on area_rows.measure = measure_labels.measure
