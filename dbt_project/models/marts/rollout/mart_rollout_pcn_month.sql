-- Rollout monitoring per PCN and month (methods §6), unsuppressed. Every referral figure goes by
-- referral month (the month's referrals, of which closed = with a discharge date); workforce by its
-- return month.
with pcn_month as (
    select * from {{ ref('int_rollout_pcn_month') }}
),

workforce_rows as (
    select
        pcn_code,
        wte,
        headcount,
        funding,
        cast({{ dbt.date_trunc('month', 'month') }} as date) as return_month
    from {{ ref('stg_workforce__link_worker_workforce') }}
),

workforce as (
    select
        pcn_code,
        return_month as month,
        -- Decimal sums here, floats only in the output, so that WTE sums carry no binary noise.
        sum(wte) as link_worker_wte,
        sum(case when coalesce(funding, 'ARRS') = 'ARRS' then wte else 0 end) as arrs_funded_wte,
        sum(case when funding = 'other' then wte else 0 end) as other_funded_wte,
        sum(headcount) as link_worker_headcount
    from workforce_rows
    group by pcn_code, return_month
),

referrals as (
    select * from {{ ref('int_referrals_attributed') }}
    where pcn_code is not null
),

received as (
    select
        pcn_code,
        referral_month as month,
        count(*) as referrals,
        count(distinct case when is_index_referral then patient_key end) as people_referred,
        sum(case when outcome = 'declined' then 1 else 0 end) as declined_referrals,
        count(days_to_first_contact) as referrals_with_first_contact,
        {{ median_cont('days_to_first_contact') }} as median_days_to_first_contact,
        sum(case when discharge_date is not null then 1 else 0 end) as closed_referrals,
        sum(case when discharge_date is not null and contacts_count is not null then 1 else 0 end)
            as closed_referrals_with_contacts,
        {{ median_cont('case when discharge_date is not null then contacts_count end') }} as median_contacts
    from referrals
    group by pcn_code, referral_month
),

joined as (
    select
        p.pcn_code,
        p.pcn_name,
        p.month,
        p.financial_year,
        p.region_code,
        p.region_name,
        p.icb_code,
        p.icb_name,
        p.sub_icb_code,
        p.sub_icb_name,
        p.practice_count,
        p.registered_population,
        {{ arrs_entitlement('p.registered_population') }} as arrs_entitlement_wte,
        coalesce(w.link_worker_wte, 0) as link_worker_wte,
        coalesce(w.arrs_funded_wte, 0) as arrs_funded_wte,
        coalesce(w.other_funded_wte, 0) as other_funded_wte,
        w.link_worker_headcount,
        w.pcn_code is not null as has_workforce_return,
        coalesce(r.referrals, 0) as referrals,
        coalesce(r.people_referred, 0) as people_referred,
        coalesce(r.declined_referrals, 0) as declined_referrals,
        coalesce(r.referrals_with_first_contact, 0) as referrals_with_first_contact,
        r.median_days_to_first_contact,
        coalesce(r.closed_referrals, 0) as closed_referrals,
        coalesce(r.closed_referrals_with_contacts, 0) as closed_referrals_with_contacts,
        r.median_contacts
    from pcn_month as p
    left join workforce as w on p.pcn_code = w.pcn_code and p.month = w.month
    left join received as r on p.pcn_code = r.pcn_code and p.month = r.month
)

select
    pcn_code,
    pcn_name,
    month,
    financial_year,
    region_code,
    region_name,
    icb_code,
    icb_name,
    sub_icb_code,
    sub_icb_name,
    practice_count,
    registered_population,
    cast(arrs_entitlement_wte as {{ type_double() }}) as arrs_entitlement_wte,
    cast(link_worker_wte as {{ type_double() }}) as link_worker_wte,
    cast(arrs_funded_wte as {{ type_double() }}) as arrs_funded_wte,
    cast(other_funded_wte as {{ type_double() }}) as other_funded_wte,
    link_worker_headcount,
    has_workforce_return,
    cast(arrs_entitlement_wte - link_worker_wte as {{ type_double() }}) as gap_wte,
    referrals,
    people_referred,
    cast(12000.0 * referrals / nullif(registered_population, 0) as {{ type_double() }})
        as referrals_per_1000_annualised,
    cast(12.0 * referrals / nullif(link_worker_wte, 0) as {{ type_double() }}) as caseload_per_wte_annualised,
    {{ var('caseload_guide_per_wte_year', 250) }} as caseload_guide_per_wte_year,
    closed_referrals,
    closed_referrals_with_contacts,
    median_contacts,
    median_contacts between {{ var('contacts_guide_low', 6) }} and {{ var('contacts_guide_high', 12) }}
        as median_contacts_within_guide,
    declined_referrals,
    cast(100.0 * declined_referrals / nullif(referrals, 0) as {{ type_double() }}) as declined_pct,
    referrals_with_first_contact,
    median_days_to_first_contact
from joined
