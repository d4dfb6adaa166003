{{ config(alias='mart_rollout_pcn_month') }}
-- Published twin of marts.mart_rollout_pcn_month with methods §9 applied (every row is PCN level):
-- counts of people rounded or suppressed, rates and percentages from the rounded counts, medians NULL
-- when they rest on 1..7 referrals. Workforce WTE and entitlement are not counts of people and stay;
-- practice and link-worker head counts are left out (small counts that are not about patients).
with mart as (
    select * from {{ ref('mart_rollout_pcn_month') }}
)

select
    'pcn' as geography_level,
    pcn_code,
    pcn_name,
    month,
    financial_year,
    coalesce(region_code, 'UNK') as region_code,
    region_name,
    icb_code,
    icb_name,
    sub_icb_code,
    sub_icb_name,
    {{ suppress_count('registered_population', "'pcn'") }} as registered_population,
    arrs_entitlement_wte,
    link_worker_wte,
    arrs_funded_wte,
    other_funded_wte,
    gap_wte,
    {{ suppress_count('referrals', "'pcn'") }} as referrals,
    {{ suppress_count('people_referred', "'pcn'") }} as people_referred,
    {{ suppressed_rate('referrals', 'registered_population', 12000, "'pcn'") }} as referrals_per_1000_annualised,
    {{ suppressed_rate('referrals', 'link_worker_wte', 12, "'pcn'", round_denominator=false) }}
        as caseload_per_wte_annualised,
    caseload_guide_per_wte_year,
    {{ suppress_count('closed_referrals', "'pcn'") }} as closed_referrals,
    {{ suppress_count('closed_referrals_with_contacts', "'pcn'") }} as closed_referrals_with_contacts,
    {{ suppress_measure('median_contacts', 'closed_referrals_with_contacts', "'pcn'") }} as median_contacts,
    {{ suppress_measure('median_contacts_within_guide', 'closed_referrals_with_contacts', "'pcn'") }}
        as median_contacts_within_guide,
    {{ suppress_count('declined_referrals', "'pcn'") }} as declined_referrals,
    {{ suppressed_pct('declined_referrals', 'referrals', "'pcn'") }} as declined_pct,
    {{ suppress_count('referrals_with_first_contact', "'pcn'") }} as referrals_with_first_contact,
    {{ suppress_measure('median_days_to_first_contact', 'referrals_with_first_contact', "'pcn'") }}
        as median_days_to_first_contact,
    {{ suppress_flag([
        'registered_population', 'referrals', 'people_referred', 'closed_referrals',
        'closed_referrals_with_contacts', 'declined_referrals', 'referrals_with_first_contact'
    ], "'pcn'") }} as is_suppressed
from mart
