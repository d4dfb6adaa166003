-- Every registered patient with the static attributes matching needs, and the date of their first
-- referral (a control must have none on or before t + W months).
with patients as (
    select * from {{ ref('stg_gp__patients') }}
),

first_referrals as (
    select
        patient_key,
        min(referral_date) as first_referral_date
    from {{ ref('stg_case_management__referrals') }}
    group by patient_key
)

select
    p.patient_key,
    p.sex,
    p.year_of_birth,
    p.practice_code,
    p.registration_start_date,
    p.registration_end_date,
    p.date_of_death,
    r.first_referral_date,
    {{ imd_quintile('p.imd_decile') }} as imd_quintile
from patients as p
left join first_referrals as r on p.patient_key = r.patient_key
