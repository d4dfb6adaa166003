{{ config(alias='mart_rollout_pcn_month') }}
-- Published twin of marts.mart_rollout_pcn_month with methods §9 (every row is PCN level): counts of
-- people rounded or suppressed, rates and percentages from the rounded counts, medians NULL when they
-- rest on 1..7 referrals. Workforce WTE and entitlement are not counts of people and stay;
-- practice and link-worker head counts are left out (small counts that are not about patients).
with mart_rows as (
    select * from {{ ref('mart_rollout_pcn_month') }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['pcn_code', 'pcn_name', 'month', 'financial_year', 'region_code', 'region_name',
        'icb_code', 'icb_name', 'sub_icb_code', 'sub_icb_name', 'arrs_entitlement_wte', 'link_worker_wte',
        'arrs_funded_wte', 'other_funded_wte', 'gap_wte', 'caseload_guide_per_wte_year', 'median_contacts',
        'median_contacts_within_guide', 'median_days_to_first_contact'
    ] %}
    select
        {{ published_counts('mart_rollout_pcn_month', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_rollout_pcn_month') }}
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
    {{ round_count('registered_population') }} as registered_population,
    arrs_entitlement_wte,
    link_worker_wte,
    arrs_funded_wte,
    other_funded_wte,
    gap_wte,
    {{ round_count('referrals') }} as referrals,
    {{ round_count('people_referred') }} as people_referred,
    {{ mean_from_rounded('referrals', 'registered_population', 12000) }} as referrals_per_1000_annualised,
    {{ mean_from_rounded('referrals', 'link_worker_wte', 12, denominator_is_count=false) }}
        as caseload_per_wte_annualised,
    caseload_guide_per_wte_year,
    {{ round_count('closed_referrals') }} as closed_referrals,
    {{ round_count('closed_referrals_with_contacts') }} as closed_referrals_with_contacts,
    case when closed_referrals_with_contacts >= {{ var('suppress_below') }} then median_contacts end
        as median_contacts,
    case when closed_referrals_with_contacts >= {{ var('suppress_below') }} then median_contacts_within_guide end
        as median_contacts_within_guide,
    {{ round_count('declined_referrals') }} as declined_referrals,
    {{ mean_from_rounded('declined_referrals', 'referrals', 100) }} as declined_pct,
    {{ round_count('referrals_with_first_contact') }} as referrals_with_first_contact,
    case when referrals_with_first_contact >= {{ var('suppress_below') }} then median_days_to_first_contact end
        as median_days_to_first_contact,
    is_suppressed
from mart
