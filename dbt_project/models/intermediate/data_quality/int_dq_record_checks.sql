-- Reference and linkage checks on the records now in the warehouse (latest delivery wins), one row
-- per source and delivering file (sha256): codes absent from the ODS practices reference are not row
-- errors (data contract §4), they load and are counted here, as are person records that do not link.
with practices as (
    select distinct
        practice_code,
        pcn_code
    from {{ ref('stg_ods__practices') }}
),

practice_codes as (
    select distinct practice_code from practices
),

pcn_codes as (
    select distinct pcn_code from practices
),

patients as (
    select distinct patient_key from {{ ref('stg_gp__patients') }}
),

referral_ids as (
    select distinct referral_id from {{ ref('stg_case_management__referrals') }}
),

checks as (
    select
        'practices' as source,
        file_sha256,
        count(*) as current_rows,
        cast(null as bigint) as unknown_practice_code_rows,
        cast(null as bigint) as unknown_pcn_code_rows,
        cast(null as bigint) as linkable_rows,
        cast(null as bigint) as unlinked_rows
    from {{ ref('stg_ods__practices') }}
    group by file_sha256

    union all

    select
        'link_worker_workforce' as source,
        w.file_sha256,
        count(*) as current_rows,
        cast(null as bigint) as unknown_practice_code_rows,
        sum(case when pc.pcn_code is null then 1 else 0 end) as unknown_pcn_code_rows,
        cast(null as bigint) as linkable_rows,
        cast(null as bigint) as unlinked_rows
    from {{ ref('stg_workforce__link_worker_workforce') }} as w
    left join pcn_codes as pc on w.pcn_code = pc.pcn_code
    group by w.file_sha256

    union all

    select
        'patients' as source,
        p.file_sha256,
        count(*) as current_rows,
        sum(case when pr.practice_code is null then 1 else 0 end) as unknown_practice_code_rows,
        cast(null as bigint) as unknown_pcn_code_rows,
        cast(null as bigint) as linkable_rows,
        cast(null as bigint) as unlinked_rows
    from {{ ref('stg_gp__patients') }} as p
    left join practice_codes as pr on p.practice_code = pr.practice_code
    group by p.file_sha256

    union all

    -- A referral is linked when its patient is in the registered population (patients).
    select
        'sp_referrals' as source,
        r.file_sha256,
        count(*) as current_rows,
        sum(case when r.referring_practice_code is not null and pr.practice_code is null then 1 else 0 end)
            as unknown_practice_code_rows,
        sum(case when r.pcn_code is not null and pc.pcn_code is null then 1 else 0 end) as unknown_pcn_code_rows,
        count(*) as linkable_rows,
        sum(case when pt.patient_key is null then 1 else 0 end) as unlinked_rows
    from {{ ref('stg_case_management__referrals') }} as r
    left join practice_codes as pr on r.referring_practice_code = pr.practice_code
    left join pcn_codes as pc on r.pcn_code = pc.pcn_code
    left join patients as pt on r.patient_key = pt.patient_key
    group by r.file_sha256

    union all

    -- An assessment is linked when its referral is known.
    select
        'sp_wellbeing' as source,
        w.file_sha256,
        count(*) as current_rows,
        cast(null as bigint) as unknown_practice_code_rows,
        cast(null as bigint) as unknown_pcn_code_rows,
        count(*) as linkable_rows,
        sum(case when ri.referral_id is null then 1 else 0 end) as unlinked_rows
    from {{ ref('stg_case_management__wellbeing') }} as w
    left join referral_ids as ri on w.referral_id = ri.referral_id
    group by w.file_sha256

    union all

    select
        'gp_appointments' as source,
        a.file_sha256,
        count(*) as current_rows,
        sum(case when pr.practice_code is null then 1 else 0 end) as unknown_practice_code_rows,
        cast(null as bigint) as unknown_pcn_code_rows,
        count(*) as linkable_rows,
        sum(case when pt.patient_key is null then 1 else 0 end) as unlinked_rows
    from {{ ref('stg_gp__appointments') }} as a
    left join practice_codes as pr on a.practice_code = pr.practice_code
    left join patients as pt on a.patient_key = pt.patient_key
    group by a.file_sha256

    union all

    select
        'ae_attendances' as source,
        e.file_sha256,
        count(*) as current_rows,
        cast(null as bigint) as unknown_practice_code_rows,
        cast(null as bigint) as unknown_pcn_code_rows,
        count(*) as linkable_rows,
        sum(case when pt.patient_key is null then 1 else 0 end) as unlinked_rows
    from {{ ref('stg_ecds__attendances') }} as e
    left join patients as pt on e.patient_key = pt.patient_key
    group by e.file_sha256

    union all

    select
        'inpatient_admissions' as source,
        s.file_sha256,
        count(*) as current_rows,
        cast(null as bigint) as unknown_practice_code_rows,
        cast(null as bigint) as unknown_pcn_code_rows,
        count(*) as linkable_rows,
        sum(case when pt.patient_key is null then 1 else 0 end) as unlinked_rows
    from {{ ref('stg_apc__admissions') }} as s
    left join patients as pt on s.patient_key = pt.patient_key
    group by s.file_sha256
)

select
    source,
    file_sha256,
    cast(current_rows as bigint) as current_rows,
    cast(unknown_practice_code_rows as bigint) as unknown_practice_code_rows,
    cast(unknown_pcn_code_rows as bigint) as unknown_pcn_code_rows,
    cast(linkable_rows as bigint) as linkable_rows,
    cast(unlinked_rows as bigint) as unlinked_rows
from checks
