-- Eligible index patient x window with the exact-match keys of methods §4 at the index date t.
with windows as (
    select * from {{ ref('int_cohort_windows') }}
    where is_eligible
),

measures as (
    select * from {{ ref('int_cohort_measures') }}
),

pre_counts as (
    select
        patient_key,
        window_months,
    {%- for m in matching_measures() %}
        sum(case when measure = '{{ m }}' then pre_count else 0 end) as pre_{{ m }}
        {{- ',' if not loop.last }}
    {%- endfor %}
    from measures
    group by patient_key, window_months
)

select
    w.patient_key as index_key,
    w.window_months,
    w.index_date,
    w.pre_start,
    w.post_end,
    w.sex,
    w.sub_icb_code,
    cast(extract(year from w.index_date) as integer) as index_year,
    {{ age_band_10('w.age_at_index') }} as age_band,
    {{ imd_quintile('w.imd_decile') }} as imd_quintile,
    {{ gp_appointments_band('p.pre_gp_appointments') }} as gp_appointments_band,
    {{ zero_one_two_band('p.pre_emergency_admissions') }} as emergency_admissions_band,
    {{ zero_one_two_band('p.pre_ae_attendances') }} as ae_attendances_band,
    {{ gp_appointments_band_rank('p.pre_gp_appointments') }} as gp_appointments_rank,
    {{ zero_one_two_band_rank('p.pre_emergency_admissions') }} as emergency_admissions_rank,
    {{ zero_one_two_band_rank('p.pre_ae_attendances') }} as ae_attendances_rank
from windows as w
inner join pre_counts as p
    on
        w.patient_key = p.patient_key
        and w.window_months = p.window_months
