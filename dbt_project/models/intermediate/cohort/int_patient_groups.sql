-- Eligible index patient x window: every (population, subgroup) group the patient belongs to
-- (methods §1), with the geography of its practice on the index date (NULL codes when the practice
-- is not in `practices`) and its cohort year. mart_demand_reduction rolls these up to every
-- geography level and to cohort_fy 'all'.
with windows as (
    select * from {{ ref('int_cohort_windows') }}
    where is_eligible
),

practice_appointments as (
    select
        patient_key,
        window_months,
        pre_count
    from {{ ref('int_cohort_measures') }}
    where measure = 'practice_appointments'
),

patient_populations as (
    select
        patient_key,
        window_months,
        'referred' as population
    from windows
    union all
    select
        patient_key,
        window_months,
        'engaged' as population
    from windows
    where is_engaged
),

subgroup_flags as (
    select
        w.patient_key,
        w.window_months,
        -- frequent attender threshold prorated to the window: per-year threshold x W / 12
        coalesce(
            p.pre_count * 12 >= {{ var('frequent_attender_per_year') }} * w.window_months, false
        ) as is_frequent_attender,
        coalesce(w.ltc_count >= 1, false) as is_ltc,
        w.age_at_index
    from windows as w
    left join practice_appointments as p
        on
            w.patient_key = p.patient_key
            and w.window_months = p.window_months
),

patient_subgroups as (
    select
        patient_key,
        window_months,
        'all' as subgroup
    from subgroup_flags
    union all
    select
        patient_key,
        window_months,
        'frequent_attenders' as subgroup
    from subgroup_flags
    where is_frequent_attender
    union all
    select
        patient_key,
        window_months,
        'ltc' as subgroup
    from subgroup_flags
    where is_ltc
    union all
    select
        patient_key,
        window_months,
        'ltc_under_80' as subgroup
    from subgroup_flags
    where is_ltc and age_at_index < 80
    union all
    select
        patient_key,
        window_months,
        'ltc_80_plus' as subgroup
    from subgroup_flags
    where is_ltc and age_at_index >= 80
)

select
    w.patient_key,
    w.window_months,
    w.region_code,
    w.icb_code,
    w.sub_icb_code,
    w.pcn_code,
    w.cohort_fy,
    -- the month of the index date: int_demand_cells is rebuilt month by month
    cast({{ dbt.date_trunc('month', 'w.index_date') }} as date) as index_month,
    p.population,
    s.subgroup
from windows as w
inner join patient_populations as p
    on
        w.patient_key = p.patient_key
        and w.window_months = p.window_months
inner join patient_subgroups as s
    on
        w.patient_key = s.patient_key
        and w.window_months = s.window_months
