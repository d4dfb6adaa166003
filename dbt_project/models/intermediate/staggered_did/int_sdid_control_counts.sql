{{ config(pre_hook="{{ avoid_nested_loops() }}") }}

-- Controls per treated cell, practice and event month (methods §4b): panel patients of cohort g in the
-- cell's stratum at g, not referred by max(m, g). Counted from int_sdid_control_groups, so no patient x
-- cohort rows are formed.
with cell_practices as (
    select
        *,
        {{ sdid_year('g') }} as g_year
    from {{ ref('int_sdid_cell_practices') }}
)

select
    cp.g,
    cp.stratum_sub_icb,
    cp.stratum_sex,
    cp.stratum_age_band,
    cp.stratum_imd_quintile,
    cp.practice_code,
{%- for ev in sdid_events() %}
    sum(case when {{ sdid_is_control('p.ref_month', 'cp.g', ev.e) }} then p.n_patients else 0 end)
        as mp_{{ ev.col }}{{ ',' if not loop.last }}
{%- endfor %}
from cell_practices as cp
inner join {{ ref('int_sdid_control_groups') }} as p
    on
        cp.practice_code = p.practice_code
        and cp.g_year = p.g_year
        and {{ sdid_same_stratum('cp', 'p', 'age_band') }}
where
    cp.g between p.g_lo and p.g_hi
    and (p.ref_month is null or p.ref_month > cp.g)
group by
    cp.g, cp.stratum_sub_icb, cp.stratum_sex, cp.stratum_age_band, cp.stratum_imd_quintile, cp.practice_code
