-- One row per control group of int_sdid_control_years (key practice_code, g_year, group_seq): what the
-- control rules read of its patients, and how many they are.
select
    practice_code,
    g_year,
    group_seq,
    sex,
    imd_quintile,
    age_band,
    g_lo,
    g_hi,
    ref_month,
    sum(n_patients) as n_patients
from {{ ref('int_sdid_control_years') }}
group by practice_code, g_year, group_seq, sex, imd_quintile, age_band, g_lo, g_hi, ref_month
