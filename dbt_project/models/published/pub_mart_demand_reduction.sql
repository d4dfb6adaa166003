{{ config(alias='mart_demand_reduction') }}
-- Published twin of marts.mart_demand_reduction with methods §9 at every level: counts of people and
-- events 0 stay 0, 1-7 NULL, 8+ rounded to 5; means, pct_change and costs from the rounded counts
-- (control means from their rounded sums); the interval of pct_change around the published
-- pct_change; matched estimates to 2 dp (percentages 1 dp) for groups of 8 or more matched people.
with mart_rows as (
    {{ with_geography_ancestors(ref('mart_demand_reduction')) }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['design', 'geography_level', 'geography_code', 'geography_name', 'region_code',
        'cohort_fy', 'population', 'subgroup', 'window_months', 'measure', 'pct_change', 'pct_change_ci_low',
        'pct_change_ci_high', 'n_clusters', 'control_pre_mean', 'control_post_mean', 'did_mean',
        'did_ci_low', 'did_ci_high', 'did_pct', 'did_pct_ci_low', 'did_pct_ci_high', 'cost_gbp'
    ] %}
    select
        {{ published_counts('mart_demand_reduction', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_demand_reduction') }}
),

published as (
    select
        *,
        {{ round_count('n_patients') }} as pub_n_patients,
        {{ round_count('pre_total') }} as pub_pre_total,
        {{ round_count('post_total') }} as pub_post_total,
        {{ mean_from_rounded('post_total', 'pre_total', 100, 'n_patients') }} - 100 as pub_pct_change
    from mart
)

select
    design,
    geography_level,
    geography_code,
    geography_name,
    region_code,
    cohort_fy,
    population,
    subgroup,
    window_months,
    measure,
    pub_n_patients as n_patients,
    pub_pre_total as pre_total,
    pub_post_total as post_total,
    {{ mean_from_rounded('pre_total', 'n_patients') }} as pre_mean,
    {{ mean_from_rounded('post_total', 'n_patients') }} as post_mean,
    pub_pct_change as pct_change,
    {{ interval_around('pub_pct_change', 'pct_change', 'pct_change_ci_low', 'n_patients', 1) }} as pct_change_ci_low,
    {{ interval_around('pub_pct_change', 'pct_change', 'pct_change_ci_high', 'n_patients', 1) }}
        as pct_change_ci_high,
    {{ round_count('n_matched') }} as n_matched,
    {{ round_count('n_unmatched') }} as n_unmatched,
    -- practices, not people: a count of clusters gives no person count away
    n_clusters,
    {{ mean_from_rounded('control_pre_mean * n_matched', 'n_matched', numerator_is_count=false) }}
        as control_pre_mean,
    {{ mean_from_rounded('control_post_mean * n_matched', 'n_matched', numerator_is_count=false) }}
        as control_post_mean,
    {{ publish_estimate('did_mean', 'n_matched') }} as did_mean,
    {{ publish_estimate('did_ci_low', 'n_matched') }} as did_ci_low,
    {{ publish_estimate('did_ci_high', 'n_matched') }} as did_ci_high,
    {{ publish_estimate('did_pct', 'n_matched', 1) }} as did_pct,
    {{ publish_estimate('did_pct_ci_low', 'n_matched', 1) }} as did_pct_ci_low,
    {{ publish_estimate('did_pct_ci_high', 'n_matched', 1) }} as did_pct_ci_high,
    cost_gbp,
    cast((pub_post_total - pub_pre_total) * cost_gbp as {{ dbt.type_numeric() }}) as cost_change_gbp,
    is_suppressed
from published
