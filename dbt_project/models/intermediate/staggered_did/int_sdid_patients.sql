-- One row per registered patient who can be in the panel of some cohort (methods §4b): the cohort
-- months g the patient's registration and life cover (g_lo .. g_hi), the first referral month and the
-- stratum attributes that do not depend on g. class_seq numbers the patient's class: patients alike
-- in everything the estimator reads of them (practice, sex, year of birth, IMD quintile, span and
-- first referral cut to the months any cohort can have, engagement of a referral kept) are
-- interchangeable in every sum it forms, so the panel is summed by class (int_sdid_class_months).
-- It holds within one build only, like the build itself.
with cutoff as (
    select
        cutoff_date,
        {{ sdid_month('cutoff_date') }} as cutoff_month
    from {{ ref('int_data_cutoff') }}
),

patients as (
    select * from {{ ref('stg_gp__patients') }}
    where patient_key is not null and registration_start_date is not null
),

referrals as (
    select
        patient_key,
        {{ sdid_month('index_date') }} as ref_month,
        is_engaged
    from {{ ref('int_index_referrals') }}
),

referral_range as (
    -- every cohort month is a first-referral month: spans cut to this range lose nothing
    select
        min(ref_month) as ref_min,
        max(ref_month) as ref_max
    from referrals
),

practice_numbers as (
    -- practices numbered in code order; classes are then numbered within their practice, so that no
    -- window sorts every patient at once (one partition on a distributed engine)
    select
        practice_code,
        row_number() over (order by practice_code) as practice_number
    from (select distinct practice_code from patients) as pr
),

spans as (
    -- first and last month the patient is registered and alive for the whole month
    select
        p.patient_key,
        n.practice_number,
        p.practice_code,
        p.sex,
        p.year_of_birth,
        {{ sdid_imd_quintile('p.imd_decile') }} as imd_quintile,
        {{ sdid_month('p.registration_start_date') }}
        + case when extract(day from p.registration_start_date) = 1 then 0 else 1 end as first_month,
        least(
            coalesce(p.registration_end_date, {{ open_end_date() }}),
            coalesce(cast({{ dbt.dateadd('day', -1, 'p.date_of_death') }} as date), {{ open_end_date() }})
        ) as last_day
    from patients as p
    inner join practice_numbers as n on p.practice_code = n.practice_code
),

registered as (
    select
        s.patient_key,
        s.practice_number,
        s.practice_code,
        s.sex,
        s.year_of_birth,
        s.imd_quintile,
        s.first_month,
        s.first_month + {{ sdid_lead() }} as g_lo,
        least(
            {{ sdid_month('s.last_day') }}
            - case when extract(day from cast({{ dbt.dateadd('day', 1, 's.last_day') }} as date)) = 1 then 0 else 1 end,
            c.cutoff_month
        ) - 12 as g_hi,
        r.ref_month,
        coalesce(r.is_engaged, false) as is_engaged
    from spans as s
    cross join cutoff as c
    left join referrals as r on s.patient_key = r.patient_key
),

classed as (
    -- what the estimator reads of a patient: the span cut to the referral months, the referral only
    -- where it ends a control window of a cohort in that span (a later one is never read), and with it
    -- its engagement
    select
        p.*,
        greatest(p.g_lo, rr.ref_min) as class_g_lo,
        least(p.g_hi, rr.ref_max) as class_g_hi,
        case
            when {{ sdid_last_control_month('p.ref_month', 'least(p.g_hi, rr.ref_max)') }} < 12 then p.ref_month
        end as class_ref_month
    from registered as p
    cross join referral_range as rr
    where p.g_lo <= p.g_hi
),

engaged as (
    -- the engagement of a kept referral only: a referral cut away is never read
    select
        *,
        class_ref_month is not null and is_engaged as class_is_engaged
    from classed
)

select
    patient_key,
    -- 10^8 leaves room for any practice's classes (the largest lists in England hold about 10^5 patients)
    cast(practice_number as {{ dbt.type_bigint() }}) * 100000000
    + dense_rank() over (
        partition by practice_code
        order by
            sex, year_of_birth, imd_quintile, class_g_lo, class_g_hi, class_ref_month, class_is_engaged
    ) as class_seq,
    practice_code,
    sex,
    year_of_birth,
    imd_quintile,
    first_month,
    g_lo,
    g_hi,
    ref_month,
    is_engaged,
    class_g_lo,
    class_g_hi,
    class_ref_month,
    class_is_engaged
from engaged
