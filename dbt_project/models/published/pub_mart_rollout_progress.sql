{{ config(alias='mart_rollout_progress') }}
-- Published twin of marts.mart_rollout_progress with methods §9 applied below England level: people
-- and referral counts and the registered population rounded or suppressed; the pro-rata ambition and
-- the percentage of it come from the rounded figures. WTE, entitlement and programme cost are
-- published as they are (workforce, not people).
with mart as (
    {{ with_geography_ancestors(ref('mart_rollout_progress')) }}
),

published as (
    select
        geography_level,
        geography_code,
        geography_name,
        coalesce(region_code, 'UNK') as region_code,
        icb_code,
        sub_icb_code,
        pcn_code,
        financial_year,
        as_at_month,
        {{ suppress_count('registered_population') }} as registered_population,
        {{ suppress_count('referrals') }} as referrals,
        {{ suppress_count('cumulative_referrals') }} as cumulative_referrals,
        {{ suppress_count('all_referrals') }} as all_referrals,
        {{ suppress_count('cumulative_all_referrals') }} as cumulative_all_referrals,
        ambition_financial_year,
        is_ambition_year,
        arrs_entitlement_wte,
        link_worker_wte,
        gap_wte,
        wte_pct_of_entitlement,
        link_worker_wte_years,
        programme_cost_gbp,
        {{ suppress_flag([
            'registered_population', 'referrals', 'cumulative_referrals', 'all_referrals',
            'cumulative_all_referrals'
        ]) }} as is_suppressed
    from mart
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    financial_year,
    as_at_month,
    registered_population,
    referrals,
    cumulative_referrals,
    all_referrals,
    cumulative_all_referrals,
    ambition_financial_year,
    is_ambition_year,
    cast(
        {{ var('national_referral_ambition') }} * cast(registered_population as numeric)
        / {{ var('england_registered_population') }}
        as {{ dbt.type_float() }}
    ) as pro_rata_ambition,
    cast(
        100.0 * cumulative_referrals * {{ var('england_registered_population') }}
        / nullif({{ var('national_referral_ambition') }} * cast(registered_population as numeric), 0)
        as {{ dbt.type_float() }}
    ) as pct_of_ambition,
    arrs_entitlement_wte,
    link_worker_wte,
    gap_wte,
    wte_pct_of_entitlement,
    link_worker_wte_years,
    programme_cost_gbp,
    is_suppressed
from published
