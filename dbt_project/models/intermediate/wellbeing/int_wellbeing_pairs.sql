-- One row per referral x instrument x item that has a baseline or a follow-up (methods §7): the
-- earliest baseline paired with the latest follow-up on the same instrument and item. SWEMWBS raw
-- totals are converted to metric scores before anything else; ONS4 items stay separate. The referral
-- is placed in its patient's cohort (index financial year and practice geography, methods §1).
with assessments as (
    select * from {{ ref('stg_case_management__wellbeing') }}
),

conversion as (
    select * from {{ ref('swemwbs_conversion') }}
),

scored as (
    -- A SWEMWBS total outside the table (not a whole number 7-35) has no metric score and is left out.
    select
        a.assessment_id,
        a.referral_id,
        a.assessment_date,
        a.assessment_type,
        a.instrument,
        a.item,
        cast(case when a.instrument = 'SWEMWBS' then c.metric_score else a.score end as {{ type_double() }})
            as score
    from assessments as a
    left join conversion as c
        on a.instrument = 'SWEMWBS' and a.score = c.raw_score
),

ranked as (
    select
        *,
        row_number() over (
            partition by referral_id, instrument, item, assessment_type
            order by assessment_date, assessment_id
        ) as first_rank,
        row_number() over (
            partition by referral_id, instrument, item, assessment_type
            order by assessment_date desc, assessment_id desc
        ) as last_rank
    from scored
    where score is not null
),

baseline as (
    select * from ranked
    where assessment_type = 'baseline' and first_rank = 1
),

follow_up as (
    select * from ranked
    where assessment_type = 'follow_up' and last_rank = 1
),

pairs as (
    select
        coalesce(b.referral_id, f.referral_id) as referral_id,
        coalesce(b.instrument, f.instrument) as instrument,
        coalesce(b.item, f.item) as item,
        b.assessment_date as baseline_date,
        b.score as baseline_score,
        f.assessment_date as followup_date,
        f.score as followup_score
    from baseline as b
    full outer join follow_up as f
        on
            b.referral_id = f.referral_id
            and b.instrument = f.instrument
            and b.item = f.item
),

referrals as (
    select
        referral_id,
        patient_key
    from {{ ref('stg_case_management__referrals') }}
),

cohort as (
    select * from {{ ref('int_index_referrals') }}
)

select
    p.referral_id,
    r.patient_key,
    p.instrument,
    p.item,
    p.baseline_date,
    p.baseline_score,
    p.followup_date,
    p.followup_score,
    p.baseline_score is not null and p.followup_score is not null as is_paired,
    p.baseline_score is not null and p.followup_score is null as is_baseline_only,
    p.baseline_score is null and p.followup_score is not null as is_followup_only,
    p.followup_score - p.baseline_score as score_change,
    -- ONS4 anxious: a lower score is better.
    case
        when p.baseline_score is null or p.followup_score is null then null
        when p.instrument = 'ONS4' and p.item = 'anxious' then p.followup_score < p.baseline_score
        else p.followup_score > p.baseline_score
    end as is_improved,
    c.cohort_fy,
    c.pcn_code,
    c.pcn_name,
    c.sub_icb_code,
    c.sub_icb_name,
    c.icb_code,
    c.icb_name,
    c.region_code,
    c.region_name
from pairs as p
inner join referrals as r on p.referral_id = r.referral_id
left join cohort as c on r.patient_key = c.patient_key
