{{ config(alias='mart_referral_pathway') }}
-- Published twin of marts.mart_referral_pathway with methods §9 at every level: counts rounded or
-- suppressed; the percentage from the rounded count and total. Codes are also given in words
-- (seed ref_referral_vocabulary) for the dashboards; the code stays for analysts.
with mart_rows as (
    {{ with_geography_ancestors(ref('mart_referral_pathway')) }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['geography_level', 'geography_code', 'geography_name', 'region_code', 'icb_code',
        'sub_icb_code', 'pcn_code', 'region_name', 'icb_name',
        'sub_icb_name', 'pcn_name', 'month', 'financial_year', 'category', 'value'
    ] %}
    select
        {{ published_counts('mart_referral_pathway', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_referral_pathway') }}
),

vocabulary as (
    select
        category,
        value,
        value_label
    from {{ ref('ref_referral_vocabulary') }}
)

select
    mart.geography_level,
    mart.geography_code,
    mart.geography_name,
    coalesce(mart.region_code, 'UNK') as region_code,
    mart.icb_code,
    mart.sub_icb_code,
    mart.pcn_code,
    mart.region_name,
    mart.icb_name,
    mart.sub_icb_name,
    mart.pcn_name,
    mart.month,
    mart.financial_year,
    mart.category,
    mart.value,
    coalesce(vocabulary.value_label, case when mart.value = 'not_recorded' then 'Not recorded' end, mart.value)
        as value_label,
    {{ round_count('mart.referrals') }} as referrals,
    {{ round_count('mart.referrals_total') }} as referrals_total,
    {{ mean_from_rounded('mart.referrals', 'mart.referrals_total', 100) }} as pct_of_referrals,
    mart.is_suppressed
from mart
left join vocabulary
    on
        mart.category = vocabulary.category
        and mart.value = vocabulary.value
