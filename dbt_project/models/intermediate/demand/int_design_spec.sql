-- Which (design, window, subgroup, measure) cells mart_demand_reduction reports (methods §3):
-- `standard` = every measure and subgroup for each var window_months; the two named replications
-- use W = 12 with their own subgroups and measures.
{%- set subgroups = ['all', 'frequent_attenders', 'ltc', 'ltc_under_80', 'ltc_80_plus'] %}
{%- set designs = [] %}
{%- for w in standard_window_months() %}
    {%- do designs.append(['standard', w, subgroups, demand_measures()]) %}
{%- endfor %}
{%- do designs.append(['gloucestershire', 12, ['all', 'frequent_attenders'],
    ['gp_appointments', 'gp_telephone', 'gp_home_visit', 'ae_attendances', 'emergency_admissions']]) %}
{%- do designs.append(['rotherham', 12, ['ltc', 'ltc_under_80', 'ltc_80_plus'],
    ['emergency_admissions', 'emergency_bed_days', 'ae_attendances']]) %}
{%- set rows = [] %}
{%- for design, w, design_subgroups, design_measures in designs %}
    {%- for s in design_subgroups %}
        {%- for m in design_measures %}
            {%- do rows.append(["'" ~ design ~ "'", w, "'" ~ s ~ "'", "'" ~ m ~ "'"]) %}
        {%- endfor %}
    {%- endfor %}
{%- endfor %}

select
    cast(design as {{ dbt.type_string() }}) as design,
    cast(window_months as integer) as window_months,
    cast(subgroup as {{ dbt.type_string() }}) as subgroup,
    cast(measure as {{ dbt.type_string() }}) as measure
from (
    values
    {%- for row in rows %}
        ({{ row | join(', ') }}){{ ',' if not loop.last }}
    {%- endfor %}
) as spec (design, window_months, subgroup, measure)
