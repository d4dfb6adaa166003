-- People ever referred and their first referral date: a control must have none on or before t + W
-- months (methods §4). The matching stages look candidates up here pair by pair (the ring does not
-- carry it, so that a new referral does not touch every year's ring); indexed on patient_key, since an
-- incremental build checks few pairs and the planner then looks each one up. Read from the referrals
-- alone (not the register): only registered people are ever looked up.
{{ config(indexes=[{'columns': ['patient_key'], 'unique': true}]) }}

select
    patient_key,
    min(referral_date) as first_referral_date
from {{ ref('stg_case_management__referrals') }}
where patient_key is not null and referral_date is not null
group by patient_key
