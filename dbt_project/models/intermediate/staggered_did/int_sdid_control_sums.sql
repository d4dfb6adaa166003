{{ config(pre_hook="{{ sdid_hash_joins() }}") }}

-- Controls' event sums per measure, treated cell, practice and event month (methods §4b): the month's
-- count (sc_*) and the base-block mean monthly count (scb_*) over the controls of that month. Built
-- from the sparse panel grouped by practice, stratum attributes, span, first referral and month.
{%- set base = sdid_base_range() %}
{%- set n_base = base[1] - base[0] + 1 %}
{#- control sets are the same in every event month before this one (strata: g + 1; csdid: g - a) -#}
{%- set first_varying = -(var('sdid_anticipation_months') | int) if sdid_mode() == 'package_compatible' else 1 %}
with cohort_range as (
    select
        min(g) as g_min,
        max(g) as g_max
    from {{ ref('int_sdid_cell_practices') }}
),

patients as (
    -- a span is only compared with the cohorts' g and a first referral only matters while it ends a
    -- control window of some cohort: cut to that range, patients who differ beyond it are summed
    -- together (the sums are of whole counts, so their order does not matter)
    select
        p.patient_key,
        p.practice_code,
        p.sex,
        p.year_of_birth,
        p.imd_quintile,
        greatest(p.g_lo, r.g_min) as g_lo,
        least(p.g_hi, r.g_max) as g_hi,
        case when {{ sdid_last_control_month('p.ref_month', 'r.g_max') }} < 12 then p.ref_month end as ref_month
    from {{ ref('int_sdid_patients') }} as p
    cross join cohort_range as r
),

events as (
    select
        m.measure,
        p.practice_code,
        p.sex,
        p.year_of_birth,
        p.imd_quintile,
        p.g_lo,
        p.g_hi,
        p.ref_month,
        m.month_index,
        cast(sum(m.y) as {{ type_double() }}) as y
    from {{ ref('int_sdid_patient_months') }} as m
    inner join patients as p on m.patient_key = p.patient_key
    group by
        m.measure, p.practice_code, p.sex, p.year_of_birth, p.imd_quintile, p.g_lo, p.g_hi, p.ref_month,
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

cohort_years as (
    select distinct g_year from cell_practices
),

event_years as (
    -- the cohort years whose windows can hold the event month, with the patient's age band then, so
    -- that the join to cells is on equalities
    select
        ev.*,
        y.g_year,
        {{ sdid_age_band('y.g_year * 12', 'ev.year_of_birth') }} as age_band
    from events as ev
    inner join cohort_years as y
        on
            y.g_year
            between {{ sdid_year('ev.month_index - 12') }} and {{ sdid_year('ev.month_index + ' ~ sdid_lead()) }}
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
    from event_years as ev
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
