-- One row per class of int_sdid_patients (methods §4b): patients alike in everything the estimator
-- reads of them, with how many they are. Spans and first referrals are the ones cut to the referral
-- months (class_g_lo, class_g_hi, class_ref_month).
select
    class_seq,
    practice_code,
    sex,
    year_of_birth,
    imd_quintile,
    class_g_lo as g_lo,
    class_g_hi as g_hi,
    class_ref_month as ref_month,
    class_is_engaged as is_engaged,
    count(*) as n_patients
from {{ ref('int_sdid_patients') }}
group by
    class_seq, practice_code, sex, year_of_birth, imd_quintile, class_g_lo, class_g_hi, class_ref_month,
    class_is_engaged
