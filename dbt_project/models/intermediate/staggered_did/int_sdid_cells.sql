{{ config(pre_hook="{{ avoid_nested_loops() }}") }}

-- One row per measure and treated cell (cohort g x stratum) (methods §4b): treated and control counts,
-- and the control change from the base block to each event month, mean_C(g,c,m) - mean_C(g,c,B(g))
-- (dc_*). A cell is usable when it keeps a control in every event month (they only shrink after g);
-- the treated patients of other cells are dropped and counted (n_unmatched).
with measures as (
    {%- for m in event_measures() %}
        select '{{ m.measure }}' as measure{{ ' union all' if not loop.last }}
    {%- endfor %}
),

cells as (
    select distinct
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        n_treated,
        n_engaged
    from {{ ref('int_sdid_cell_practices') }}
),

counts as (
    select
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
    {%- for ev in sdid_events() %}
        sum(mp_{{ ev.col }}) as m_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ ref('int_sdid_control_counts') }}
    group by g, stratum_sub_icb, stratum_sex, stratum_age_band, stratum_imd_quintile
),

sums as (
    select
        measure,
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
    {%- for ev in sdid_events() %}
        sum(sc_{{ ev.col }}) as sc_{{ ev.col }},
        sum(scb_{{ ev.col }}) as scb_{{ ev.col }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ ref('int_sdid_control_sums') }}
    group by measure, g, stratum_sub_icb, stratum_sex, stratum_age_band, stratum_imd_quintile
)

select
    ms.measure,
    c.g,
    c.stratum_sub_icb,
    c.stratum_sex,
    c.stratum_age_band,
    c.stratum_imd_quintile,
    c.n_treated,
    c.n_engaged,
    coalesce(k.m_p12, 0) > 0 as is_usable,
{%- for ev in sdid_events() %}
    k.m_{{ ev.col }},
    cast(coalesce(s.sc_{{ ev.col }}, 0) - coalesce(s.scb_{{ ev.col }}, 0) as {{ type_double() }})
    / nullif(k.m_{{ ev.col }}, 0) as dc_{{ ev.col }}{{ ',' if not loop.last }}
{%- endfor %}
from cells as c
cross join measures as ms
left join counts as k
    on
        c.g = k.g
        and c.stratum_sub_icb = k.stratum_sub_icb
        and c.stratum_sex = k.stratum_sex
        and c.stratum_age_band = k.stratum_age_band
        and c.stratum_imd_quintile = k.stratum_imd_quintile
left join sums as s
    on
        ms.measure = s.measure
        and c.g = s.g
        and c.stratum_sub_icb = s.stratum_sub_icb
        and c.stratum_sex = s.stratum_sex
        and c.stratum_age_band = s.stratum_age_band
        and c.stratum_imd_quintile = s.stratum_imd_quintile
