{{ config(pre_hook="{{ avoid_nested_loops() }}") }}

-- Distinct control patients per group (outputs: n_control_patients): patients in the control set of
-- a usable cell of the group in some event month (the sets of months before g hold all later ones).
-- Counted over classes (int_sdid_classes) grouped by practice, stratum attributes, span and first referral month cut to
-- the cohorts' range.
with cohort_range as (
    select
        min(g) as g_min,
        max(g) as g_max
    from {{ ref('int_sdid_cell_practices') }}
),

patients as (
    -- spans and first referrals cut to the cohorts' range: patients who differ only beyond it serve
    -- the same cells, so a group's patients are counted once, together
    select
        p.practice_code,
        p.sex,
        p.year_of_birth,
        p.imd_quintile,
        greatest(p.g_lo, r.g_min) as g_lo,
        least(p.g_hi, r.g_max) as g_hi,
        case when {{ sdid_last_control_month('p.ref_month', 'r.g_max') }} < 12 then p.ref_month end as ref_month,
        sum(p.n_patients) as n_patients
    from {{ ref('int_sdid_classes') }} as p
    cross join cohort_range as r
    where p.g_lo <= r.g_max and p.g_hi >= r.g_min and (p.ref_month is null or p.ref_month > greatest(p.g_lo, r.g_min))
    group by
        p.practice_code, p.sex, p.year_of_birth, p.imd_quintile, greatest(p.g_lo, r.g_min),
        least(p.g_hi, r.g_max),
        case when {{ sdid_last_control_month('p.ref_month', 'r.g_max') }} < 12 then p.ref_month end
),

cells as (
    select distinct
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile
    from {{ ref('int_sdid_cells') }}
    where is_usable
),

cell_pcns as (
    select distinct
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        pcn_code,
        cohort_fy
    from {{ ref('int_sdid_treated') }}
    where pcn_code is not null
),

cohort_years as (
    select distinct
        g,
        cohort_fy
    from {{ ref('int_sdid_treated') }}
),

numbered as (
    -- a short key per group (unique within its practice), so that what follows compares two
    -- columns, not seven
    select
        *,
        row_number() over (
            partition by practice_code order by sex, year_of_birth, imd_quintile, g_lo, g_hi, ref_month
        ) as group_seq
    from patients
),

patient_years as {{ materialized_cte() }} (
    -- each cohort year with the patients' age band then, so that the join to cells is on equalities
    -- (built first: joined to the cells' practices before it, a group meets every cell of its practice)
    select
        p.*,
        y.g_year,
        {{ sdid_age_band('y.g_year * 12', 'p.year_of_birth') }} as age_band
    from numbered as p
    inner join (select distinct {{ sdid_year('g') }} as g_year from cells) as y
        on y.g_year between {{ sdid_year('p.g_lo') }} and {{ sdid_year('p.g_hi') }}
),

served as (
    -- one row per group and usable cell it serves (a group has one stratum per cohort year)
    select
        p.practice_code,
        p.group_seq,
        p.n_patients,
        cp.g,
        cp.stratum_sub_icb,
        cp.stratum_sex,
        cp.stratum_age_band,
        cp.stratum_imd_quintile,
        cp.region_code,
        cp.icb_code,
        cp.sub_icb_code
    from {{ ref('int_sdid_cell_practices') }} as cp
    inner join cells as c
        on {{ sdid_same_cell('cp', 'c') }}
    inner join patient_years as p
        on
            cp.practice_code = p.practice_code
            and {{ sdid_year('cp.g') }} = p.g_year
            and {{ sdid_same_stratum('cp', 'p', 'age_band') }}
    where
        cp.g between p.g_lo and p.g_hi
        and (p.ref_month is null or p.ref_month > cp.g)
),

group_areas as (
    -- the areas and financial years each group serves, cells and cohort months aside
    select
        s.practice_code,
        s.group_seq,
        s.n_patients,
        y.cohort_fy,
        s.region_code,
        s.icb_code,
        s.sub_icb_code
    from served as s
    inner join cohort_years as y on s.g = y.g
    group by s.practice_code, s.group_seq, s.n_patients, y.cohort_fy, s.region_code, s.icb_code, s.sub_icb_code
),

group_pcns as ( -- noqa: ST03
    -- a control counts in a PCN when it serves a cell with treated patients of that PCN (strata mode
    -- only, hence unused in the package-compatible rendering)
    select
        s.practice_code,
        s.group_seq,
        s.n_patients,
        w.cohort_fy,
        w.pcn_code
    from served as s
    inner join cell_pcns as w
        on {{ sdid_same_cell('s', 'w') }}
    group by s.practice_code, s.group_seq, s.n_patients, w.cohort_fy, w.pcn_code
),

areas as (
    select
        practice_code,
        group_seq,
        n_patients,
        cohort_fy,
        'england' as geography_level,
        'ENG' as geography_code
    from group_areas
    {%- if sdid_mode() == 'strata' %}
        {%- for level in ['region', 'icb', 'sub_icb'] %}
            union all
            select
                practice_code,
                group_seq,
                n_patients,
                cohort_fy,
                '{{ level }}' as geography_level,
                {{ level }}_code as geography_code
            from group_areas
        {%- endfor %}
        union all
        select
            practice_code,
            group_seq,
            n_patients,
            cohort_fy,
            'pcn' as geography_level,
            pcn_code as geography_code
        from group_pcns
    {%- endif %}
),

by_year as (
    select distinct
        geography_level,
        geography_code,
        cohort_fy,
        practice_code,
        group_seq,
        n_patients
    from areas
),

overall as (
    select distinct
        geography_level,
        geography_code,
        'all' as cohort_fy,
        practice_code,
        group_seq,
        n_patients
    from areas
)

select
    geography_level,
    geography_code,
    cohort_fy,
    sum(n_patients) as n_control_patients
from by_year
group by geography_level, geography_code, cohort_fy
union all
select
    geography_level,
    geography_code,
    cohort_fy,
    sum(n_patients) as n_control_patients
from overall
group by geography_level, geography_code, cohort_fy
