-- One row per referral with the PCN it counts for in rollout monitoring (methods §6): the PCN whose
-- link-worker service took it (pcn_code), else the PCN of the referring practice on the referral date.
with referrals as (
    select * from {{ ref('stg_case_management__referrals') }}
),

practices as (
    select * from {{ ref('int_practice_geography') }}
),

-- The referring practice's interval valid on the referral date; if intervals overlap (a delivery
-- fault) the latest-starting one wins so that each referral stays one row.
referring_practice as (
    select
        r.referral_id,
        p.pcn_code,
        row_number() over (partition by r.referral_id order by p.valid_from desc) as rn
    from referrals as r
    inner join practices as p
        on
            r.referring_practice_code = p.practice_code
            and r.referral_date >= p.valid_from
            and r.referral_date < p.valid_to
),

-- Index referral = the patient's earliest referral (methods §1); ties broken by referral_id.
ordered as (
    select
        referral_id,
        row_number() over (partition by patient_key order by referral_date, referral_id) as referral_seq
    from referrals
)

select
    r.referral_id,
    r.patient_key,
    r.referral_date,
    cast({{ dbt.date_trunc('month', 'r.referral_date') }} as date) as referral_month,
    r.referral_source,
    r.referring_practice_code,
    r.pcn_code as delivered_pcn_code,
    rp.pcn_code as referring_practice_pcn_code,
    coalesce(r.pcn_code, rp.pcn_code) as pcn_code,
    case
        when r.pcn_code is not null then 'pcn_code'
        when rp.pcn_code is not null then 'referring_practice'
        else 'unattributed'
    end as pcn_attribution,
    r.link_worker_id,
    r.referral_reasons,
    r.activities,
    r.outcome,
    r.first_contact_date,
    r.discharge_date,
    cast({{ dbt.date_trunc('month', 'r.discharge_date') }} as date) as discharge_month,
    r.contacts_count,
    {{ days_between('r.referral_date', 'r.first_contact_date') }} as days_to_first_contact,
    o.referral_seq,
    o.referral_seq = 1 as is_index_referral
from referrals as r
inner join ordered as o on r.referral_id = o.referral_id
left join referring_practice as rp on r.referral_id = rp.referral_id and rp.rn = 1
