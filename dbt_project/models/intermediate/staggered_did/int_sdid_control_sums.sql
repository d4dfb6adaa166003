{{ config(pre_hook="{{ avoid_nested_loops() }}") }}

-- Controls' event sums per measure, treated cell, practice and event month (methods §4b): the month's
-- count (sc_*) and the base-block mean monthly count (scb_*) over the controls of that month. Built
-- from the sparse panel summed by int_sdid_control_years' groups and month.
{%- set base = sdid_base_range() %}
{%- set n_base = base[1] - base[0] + 1 %}
{#- control sets are the same in every event month before this one (strata: g + 1; csdid: g - a) -#}
{%- set first_varying = -(var('sdid_anticipation_months') | int) if sdid_mode() == 'package_compatible' else 1 %}
with events as (
    -- the controls' months summed by int_sdid_control_years' groups, in each cohort year whose
    -- windows hold the month; a referred patient's months from the referral on end every control
    -- window it is in (they are never a control's month or base block), so they are left out
    select
        m.measure,
        c.practice_code,
        c.sex,
        c.imd_quintile,
        c.g_year,
        c.age_band,
        c.g_lo,
        c.g_hi,
        c.ref_month,
        m.month_index,
        cast(sum(m.y) as {{ type_double() }}) as y
    from {{ ref('int_sdid_patient_months') }} as m
    inner join {{ ref('int_sdid_control_years') }} as c
        on
            m.patient_key = c.patient_key
            and m.month_index between c.g_lo - {{ sdid_lead() }} and c.g_hi + 12
    where c.ref_month is null or m.month_index < c.ref_month
    group by
        m.measure, c.practice_code, c.sex, c.imd_quintile, c.g_year, c.age_band, c.g_lo, c.g_hi, c.ref_month,
        m.month_index
),

cell_practices as (
    select distinct
        g,
        {{ sdid_year('g') }} as g_year,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        practice_code
    from {{ ref('int_sdid_cell_practices') }}
),

served as (
    -- each event month joined to the cells whose window holds it and whose control the patient is
    select
        ev.measure,
        cp.g,
        cp.stratum_sub_icb,
        cp.stratum_sex,
        cp.stratum_age_band,
        cp.stratum_imd_quintile,
        cp.practice_code,
        ev.month_index - cp.g as e,
        {{ sdid_last_control_month('ev.ref_month', 'cp.g') }} as last_control_e,
        ev.y
    from events as ev
    inner join cell_practices as cp
        on
            ev.practice_code = cp.practice_code
            and ev.g_year = cp.g_year
            and {{ sdid_same_stratum('cp', 'ev', 'age_band') }}
    where
        cp.g between ev.g_lo and ev.g_hi
        and cp.g between ev.month_index - 12 and ev.month_index + {{ sdid_lead() }}
        and (ev.ref_month is null or ev.ref_month > cp.g)
),

sums as (
    select
        measure,
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        practice_code,
        {%- for ev in sdid_events() %}
            sum(case when e = {{ ev.e }} and last_control_e >= {{ ev.e }} then y else 0 end) as sc_{{ ev.col }},
        {%- endfor %}
        {%- for ev in sdid_events() if ev.e >= first_varying %}
            sum(case when e between {{ base[0] }} and {{ base[1] }} and last_control_e >= {{ ev.e }} then y else 0 end)
            / {{ n_base }} as scb_{{ ev.col }},
        {%- endfor %}
        sum(case when e between {{ base[0] }} and {{ base[1] }} then y else 0 end) / {{ n_base }} as scb_before
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
    sc_{{ ev.col }},
    {{ 'scb_before' if ev.e < first_varying else 'scb_' ~ ev.col }} as scb_{{ ev.col }}{{ ',' if not loop.last }}
{%- endfor %}
from sums
