-- One row per registered patient who can be in the panel of some cohort (methods §4b): the cohort
-- months g the patient's registration and life cover (g_lo .. g_hi), the first referral month and the
-- stratum attributes that do not depend on g. patient_seq is the key of the panel and its joins: a
-- bigint is cheaper to hash and store for every patient-month than the 64-character pseudonym. It
-- holds within one build only (a new patient renumbers the practice), like the build itself.
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

practice_numbers as (
    -- practices numbered in code order; patients are then numbered within their practice, so that no
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
        -- 10^8 leaves room for any practice's list (the largest in England hold about 10^5 patients)
        cast(n.practice_number as {{ dbt.type_bigint() }}) * 100000000
        + row_number() over (partition by p.practice_code order by p.patient_key) as patient_seq,
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
)

select
    s.patient_key,
    s.patient_seq,
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
where
    s.first_month + {{ sdid_lead() }}
    <= least(
        {{ sdid_month('s.last_day') }}
        - case when extract(day from cast({{ dbt.dateadd('day', 1, 's.last_day') }} as date)) = 1 then 0 else 1 end,
        c.cutoff_month
    ) - 12
