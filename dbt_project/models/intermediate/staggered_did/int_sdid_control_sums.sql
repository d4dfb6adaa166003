{{ config(pre_hook=["{{ avoid_nested_loops() }}", "{{ prefer_hash_aggregation() }}"]) }}

-- Controls' event sums per measure, treated cell, practice and event month (methods §4b): the month's
-- count (sc_*) and the base-block mean monthly count (scb_*) over the controls of that month.
-- The class panel (int_sdid_class_months) is summed by control group (int_sdid_control_groups, key
-- practice_code, g_year, group_seq) into one row per measure and group holding the group's monthly
-- series over its cohort year's windows (y_00 ..); a cell then reads its event months from that row by
-- position, so a month is not joined to every cell it serves.
{%- set lead = sdid_lead() %}
{%- set base = sdid_base_range() %}
{%- set n_base = base[1] - base[0] + 1 %}
{#- control sets are the same in every event month before this one (strata: g + 1; csdid: g - a) -#}
{%- set first_varying = -(var('sdid_anticipation_months') | int) if sdid_mode() == 'package_compatible' else 1 %}
{#- positions r of a cohort year's window months: month = 12 * g_year - lead + r, cohorts k = 0 .. 11 -#}
{%- set n_positions = 12 + lead + 12 %}
with group_months as (
    -- the controls' months summed by group; a referred class's months from the referral on end
    -- every control window it is in (they are never a control's month or base block), so they are
    -- left out
    select
        m.measure,
        c.practice_code,
        c.g_year,
        c.group_seq,
        m.month_index - (12 * c.g_year - {{ lead }}) as position,
        cast(sum(m.y) as {{ type_double() }}) as y
    from {{ ref('int_sdid_class_months') }} as m
    inner join {{ ref('int_sdid_control_years') }} as c
        on
            m.class_seq = c.class_seq
            and m.month_index between c.g_lo - {{ lead }} and c.g_hi + 12
    where c.ref_month is null or m.month_index < c.ref_month
    group by m.measure, c.practice_code, c.g_year, c.group_seq, m.month_index - (12 * c.g_year - {{ lead }})
),
-- noqa: disable=LT02
-- (sqlfluff cannot place the Jinja loops of these select lists)

group_series as (
    -- one row per measure and group: y_<r> the group's sum in window month r of its cohort year
    select
        measure,
        practice_code,
        g_year,
        group_seq,
        {%- for r in range(n_positions) %}
            sum(case when position = {{ r }} then y else 0 end) as y_{{ '%02d' % r }}{{ ',' if not loop.last }}
        {%- endfor %}
    from group_months
    group by measure, practice_code, g_year, group_seq
),

cell_practices as (
    select distinct
        g,
        {{ sdid_year('g') }} as g_year,
        g - 12 * {{ sdid_year('g') }} as k,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        practice_code
    from {{ ref('int_sdid_cell_practices') }}
),

served as (
    -- each group joined to the cells it is a control of; y_<event> its sum in the cell's event month
    -- (position k + e + lead for the cell's cohort k of the year), y_base its base-block total,
    -- last_control_e the last event month it stays a control
    select
        s.measure,
        cp.g,
        cp.stratum_sub_icb,
        cp.stratum_sex,
        cp.stratum_age_band,
        cp.stratum_imd_quintile,
        cp.practice_code,
        {{ sdid_last_control_month('gr.ref_month', 'cp.g') }} as last_control_e,
        {%- for ev in sdid_events() %}
            case cp.k
                {%- for k in range(12) %}
                    when {{ k }} then s.y_{{ '%02d' % (k + ev.e + lead) }}
                {%- endfor %}
            end as y_{{ ev.col }},
        {%- endfor %}
        case cp.k
            {%- for k in range(12) %}
                when {{ k }} then 0
                {%- for e in range(base[0], base[1] + 1) %}
                    + s.y_{{ '%02d' % (k + e + lead) }}
                {%- endfor %}
            {%- endfor %}
        end as y_base
    from group_series as s
    inner join {{ ref('int_sdid_control_groups') }} as gr
        on
            s.practice_code = gr.practice_code
            and s.g_year = gr.g_year
            and s.group_seq = gr.group_seq
    inner join cell_practices as cp
        on
            gr.practice_code = cp.practice_code
            and gr.g_year = cp.g_year
            and {{ sdid_same_stratum('cp', 'gr', 'age_band') }}
    where
        cp.g between gr.g_lo and gr.g_hi
        and (gr.ref_month is null or gr.ref_month > cp.g)
),

cell_sums as (
    -- the base-block total is one sum for every event month whose control set is the cell's first
    -- (sb_fixed), so it is summed once, not once per month
    select
        measure,
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        practice_code,
        {%- for ev in sdid_events() %}
            {%- if ev.e < first_varying %}
                sum(y_{{ ev.col }}) as sc_{{ ev.col }},
            {%- else %}
                sum(case when last_control_e >= {{ ev.e }} then y_{{ ev.col }} else 0 end) as sc_{{ ev.col }},
                sum(case when last_control_e >= {{ ev.e }} then y_base else 0 end) as sb_{{ ev.col }},
            {%- endif %}
        {%- endfor %}
        sum(y_base) as sb_fixed
    from served
    group by measure, g, stratum_sub_icb, stratum_sex, stratum_age_band, stratum_imd_quintile, practice_code
)

select
    measure,
    g,
    stratum_sub_icb,
    stratum_sex,
    stratum_age_band,
    stratum_imd_quintile,
    practice_code,
    {%- for ev in sdid_events() %}
        {%- set sb = 'sb_fixed' if ev.e < first_varying else 'sb_' ~ ev.col %}
        sc_{{ ev.col }},
        {{ sb }} / {{ n_base }} as scb_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
from cell_sums
-- noqa: enable=LT02
