-- One row per class of panel patients (int_sdid_classes) and cohort year in which its patients can be
-- controls (methods §4b), with what the control rules read in that year: practice, sex, IMD quintile,
-- the 10-year age band then, the span of the year's cohorts whose panel the patients are in, and the
-- first referral where it ends a control window of one of them. Classes that differ only in what
-- those rules do not read (year of birth within a band, span or referral beyond the year's cohorts)
-- then fall into the same group, so control counts and sums work on groups, not people. group_seq
-- numbers the groups within a practice and year: (practice_code, g_year, group_seq) is the one key of
-- a group downstream.
with cohort_months as (
    select distinct g from {{ ref('int_sdid_cell_practices') }}
),

cohort_years as (
    select
        {{ sdid_year('g') }} as g_year,
        min(g) as g_first,
        max(g) as g_last
    from cohort_months
    group by {{ sdid_year('g') }}
),

spans as (
    select
        p.class_seq,
        p.n_patients,
        p.practice_code,
        p.sex,
        p.imd_quintile,
        y.g_year,
        {{ sdid_age_band('y.g_year * 12', 'p.year_of_birth') }} as age_band,
        greatest(p.g_lo, y.g_first) as g_lo,
        least(p.g_hi, y.g_last) as g_hi,
        -- a referral that ends no control window of the year's cohorts reads as never referred
        case
            when {{ sdid_last_control_month('p.ref_month', 'least(p.g_hi, y.g_last)') }} < 12 then p.ref_month
        end as ref_month
    from {{ ref('int_sdid_classes') }} as p
    inner join cohort_years as y
        on p.g_lo <= y.g_last and p.g_hi >= y.g_first
),

patient_years as (
    select
        *,
        dense_rank() over (
            partition by practice_code, g_year order by sex, imd_quintile, age_band, g_lo, g_hi, ref_month
        ) as group_seq
    from spans
    -- referred by the first cohort of the span: a control of none of them
    where ref_month is null or ref_month > g_lo
)

select
    py.class_seq,
    py.n_patients,
    py.practice_code,
    py.sex,
    py.imd_quintile,
    py.g_year,
    py.group_seq,
    py.age_band,
    py.g_lo,
    py.g_hi,
    py.ref_month
from patient_years as py
