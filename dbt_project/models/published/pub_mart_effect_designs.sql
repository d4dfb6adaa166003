{{ config(alias='mart_effect_designs') }}
-- The three estimates of a measure side by side, each in % of use before referral with its 95%
-- interval, for the forest plot: before/after (methods §3, no comparison group), matched comparison
-- (§4, the comparison commissioners recognise) and the staggered difference-in-differences (§4b, the
-- primary estimate). 12-month windows, subgroup all. Built from the published tables only, so
-- suppression is inherited; percentages to 1 decimal place. Five rows per estimate (seed
-- ref_interval_rows; the outer bounds are the interval again), because Superset's box plot draws an
-- interval from rows: its box, from the 25th to the 75th percentile, is then the 95% interval.
{%- set area_columns = [
    'geography_level', 'geography_code', 'geography_name', 'region_code', 'icb_code', 'sub_icb_code',
    'pcn_code', 'region_name', 'icb_name',
    'sub_icb_name', 'pcn_name', 'cohort_fy', 'population', 'measure', 'measure_label'
] %}
{%- set designs = [
    {'design': 'before_after', 'label': 'Before/after (uncontrolled)', 'axis': 'Before/after',
     'source': 'demand', 'n': 'n_patients', 'estimate': 'pct_change'},
    {'design': 'matched', 'label': 'Matched (commissioner-recognised comparison)',
     'axis': 'Matched', 'source': 'demand', 'n': 'n_matched', 'estimate': 'did_pct'},
    {'design': 'staggered', 'label': 'Staggered (primary estimate)', 'axis': 'Staggered',
     'source': 'staggered', 'n': 'n_treated', 'estimate': 'att_pct'},
] %}
with demand as (
    select *
    from {{ ref('pub_mart_demand_reduction_by_area') }}
    where design = 'standard' and subgroup = 'all' and window_months = 12
),

staggered as (
    select *
    from {{ ref('pub_mart_staggered_did_by_area') }}
    where estimate = 'cumulative_12m'
),

designs as (
    {%- for d in designs %}
        select
            {%- for c in area_columns %}
                {{ c }},
            {%- endfor %}
            '{{ d.design }}' as design,
            {{ loop.index }} as design_order,
            '{{ d.label }}' as design_label,
            -- a chart axis a third of a dashboard wide has room for one short word per design
            '{{ d.axis }}' as design_axis_label,
            {{ d.n }} as n_people,
            {{ d.estimate }} as estimate_pct,
            {{ d.estimate }}_ci_low as ci_low_pct,
            {{ d.estimate }}_ci_high as ci_high_pct
        from {{ d.source }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

{%- set bound_value -%}
    case
        when bounds.bound in ('outer_low', 'lower') then designs.ci_low_pct
        when bounds.bound in ('upper', 'outer_high') then designs.ci_high_pct
        else designs.estimate_pct
    end
{%- endset %}

select
    {%- for c in area_columns %}
        designs.{{ c }},
    {%- endfor %}
    designs.design,
    designs.design_order,
    designs.design_label,
    designs.design_axis_label,
    designs.n_people,
    {{ round_published('designs.estimate_pct', 1) }} as estimate_pct,
    {{ round_published('designs.ci_low_pct', 1) }} as ci_low_pct,
    {{ round_published('designs.ci_high_pct', 1) }} as ci_high_pct,
    bounds.bound,
    bounds.bound_order,
    {{ round_published(bound_value, 1) }} as bound_pct
from designs
cross join {{ ref('ref_interval_rows') }} as bounds
