-- Every registered patient with the static attributes matching needs, and the date of their first
-- referral (a control must have none on or before t + W months).
-- A view: the ring reads it only when it rebuilds a year, and int_match_first_referrals keeps the
-- referred; storing the register again each build cost 2-3 s (with its tests) at the start of a
-- refresh. One row per patient_key: raw.patients' record key (as stg_gp__patients).
{{ config(materialized='view') }}
with patients as (
    select * from {{ ref('stg_gp__patients') }}
),

first_referrals as (
    select * from {{ ref('int_match_first_referrals') }}
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
