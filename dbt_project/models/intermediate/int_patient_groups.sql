-- Eligible index patient x window: every (geography, cohort_fy, population, subgroup) group the
-- patient belongs to (methods §1). Geography is the patient's practice on the index date; a patient
-- whose practice is not in `practices` counts at England level only.
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

names as (
    select * from {{ ref('int_geography_names') }}
),

patient_geographies as (
    select
        patient_key,
        window_months,
        'england' as geography_level,
        'ENG' as geography_code
    from windows
    {%- for level in ['region', 'icb', 'sub_icb', 'pcn'] %}
        union all
        select
            patient_key,
            window_months,
            '{{ level }}' as geography_level,
            {{ level }}_code as geography_code
        from windows
        where {{ level }}_code is not null
    {%- endfor %}
),

patient_cohorts as (
    select
        patient_key,
        window_months,
        cohort_fy
    from windows
    union all
    select
        patient_key,
        window_months,
        'all' as cohort_fy
    from windows
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
    g.patient_key,
    g.window_months,
    g.geography_level,
    g.geography_code,
    n.geography_name,
    n.region_code,
    c.cohort_fy,
    p.population,
    s.subgroup
from patient_geographies as g
inner join names as n
    on
        g.geography_level = n.geography_level
        and g.geography_code = n.geography_code
inner join patient_cohorts as c
    on
        g.patient_key = c.patient_key
        and g.window_months = c.window_months
inner join patient_populations as p
    on
        g.patient_key = p.patient_key
        and g.window_months = p.window_months
inner join patient_subgroups as s
    on
        g.patient_key = s.patient_key
        and g.window_months = s.window_months
