{{ config(pre_hook="{{ sdid_hash_joins() }}") }}

-- Controls per treated cell, practice and event month (methods §4b): panel patients of cohort g in the
-- cell's stratum at g, not referred by max(m, g). Counted from patients grouped by practice, stratum
-- attributes, registration span and first-referral month, so no patient x cohort rows are formed.
with cohort_range as (
    select
        min(g) as g_min,
        max(g) as g_max
    from {{ ref('int_sdid_cell_practices') }}
),

patients as (
    -- spans and first referrals cut to the cohorts' range, as in int_sdid_control_sums: patients who
    -- differ only beyond it are counted together
    select
        p.practice_code,
        p.sex,
        p.year_of_birth,
        p.imd_quintile,
        greatest(p.g_lo, r.g_min) as g_lo,
        least(p.g_hi, r.g_max) as g_hi,
        case when {{ sdid_last_control_month('p.ref_month', 'r.g_max') }} < 12 then p.ref_month end as ref_month,
        count(*) as n_patients
    from {{ ref('int_sdid_patients') }} as p
    cross join cohort_range as r
    group by
        p.practice_code, p.sex, p.year_of_birth, p.imd_quintile, greatest(p.g_lo, r.g_min),
        least(p.g_hi, r.g_max),
        case when {{ sdid_last_control_month('p.ref_month', 'r.g_max') }} < 12 then p.ref_month end
),

cell_practices as (
    select
        *,
        {{ sdid_year('g') }} as g_year
    from {{ ref('int_sdid_cell_practices') }}
),

patient_years as (
    -- each cohort year with the patients' age band then, so that the join to cells is on equalities
    select
        p.*,
        y.g_year,
        {{ sdid_age_band('y.g_year * 12', 'p.year_of_birth') }} as age_band
    from patients as p
    inner join (select distinct g_year from cell_practices) as y
        on y.g_year between {{ sdid_year('p.g_lo') }} and {{ sdid_year('p.g_hi') }}
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
inner join patient_years as p
    on
        cp.practice_code = p.practice_code
        and cp.g_year = p.g_year
        and {{ sdid_same_stratum('cp', 'p', 'age_band') }}
where
    cp.g between p.g_lo and p.g_hi
    and (p.ref_month is null or p.ref_month > cp.g)
group by
    cp.g, cp.stratum_sub_icb, cp.stratum_sex, cp.stratum_age_band, cp.stratum_imd_quintile, cp.practice_code
