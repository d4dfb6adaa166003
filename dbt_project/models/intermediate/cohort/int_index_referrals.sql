-- One row per referred patient: the index (earliest) referral, the patient's registration record and
-- the geography of the patient's practice on the index date (methods §1).
with referrals as (
    select * from {{ ref('stg_case_management__referrals') }}
    where patient_key is not null
),

ranked as (
    -- Earliest referral_date wins; referral_id breaks ties so the choice is deterministic.
    select
        *,
        row_number() over (partition by patient_key order by referral_date, referral_id) as referral_seq,
        count(*) over (partition by patient_key) as n_referrals
    from referrals
),

index_referrals as (
    select * from ranked
    where referral_seq = 1
),

patients as (
    select * from {{ ref('stg_gp__patients') }}
),

geography as (
    select * from {{ ref('int_practice_geography') }}
),

index_patients as (
    -- the index referral with the patient's registration record (each relation read once, so the
    -- planner hashes the small referral side instead of sorting the population)
    select
        i.patient_key,
        i.referral_id,
        i.referral_date,
        i.outcome,
        i.pcn_code as referral_pcn_code,
        i.referring_practice_code,
        i.n_referrals,
        p.patient_key as patient_record_key,
        p.practice_code,
        p.year_of_birth,
        p.sex,
        p.imd_decile,
        p.ltc_count,
        p.registration_start_date,
        p.registration_end_date,
        p.date_of_death
    from index_referrals as i
    left join patients as p on i.patient_key = p.patient_key
),

geography_on_index as (
    -- Overlapping practice rows would be a data fault; the latest effective_from wins.
    select
        ip.*,
        g.pcn_code,
        g.pcn_name,
        g.sub_icb_code,
        g.sub_icb_name,
        g.icb_code,
        g.icb_name,
        g.region_code,
        g.region_name,
        row_number() over (partition by ip.patient_key order by g.valid_from desc) as geography_seq
    from index_patients as ip
    left join geography as g
        on
            ip.practice_code = g.practice_code
            and ip.referral_date >= g.valid_from
            and ip.referral_date < g.valid_to
)

select
    patient_key,
    referral_id as index_referral_id,
    referral_date as index_date,
    outcome as index_outcome,
    referral_pcn_code,
    referring_practice_code,
    n_referrals,
    practice_code,
    year_of_birth,
    sex,
    imd_decile,
    ltc_count,
    registration_start_date,
    registration_end_date,
    date_of_death,
    pcn_code,
    pcn_name,
    sub_icb_code,
    sub_icb_name,
    icb_code,
    icb_name,
    region_code,
    region_name,
    coalesce(outcome in ('engaged', 'ongoing'), false) as is_engaged,
    patient_record_key is not null as has_patient_record,
    cast(extract(year from referral_date) as integer) - year_of_birth as age_at_index,
    {{ financial_year('referral_date') }} as cohort_fy
from geography_on_index
where geography_seq = 1
