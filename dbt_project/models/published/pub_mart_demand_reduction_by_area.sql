{{ config(alias='mart_demand_reduction_by_area') }}
-- published.mart_demand_reduction as the dashboards read it: every row and column of the
-- disclosure-controlled table, plus the ICB, sub-ICB and PCN codes its area lies in, so the
-- geography filters narrow it. Built from the published twin, so suppression is inherited, not redone.
{{ with_geography_ancestors(ref('pub_mart_demand_reduction')) }}
