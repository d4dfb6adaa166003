{{ config(alias='mart_referral_pathway') }}
-- Published twin of marts.mart_referral_pathway with methods §9 at every level: counts rounded or
-- suppressed; the percentage from the rounded count and total.
with mart_rows as (
    {{ with_geography_ancestors(ref('mart_referral_pathway')) }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['geography_level', 'geography_code', 'geography_name', 'region_code', 'icb_code',
        'sub_icb_code', 'pcn_code', 'month', 'financial_year', 'category', 'value'
    ] %}
    select
        {{ published_counts('mart_referral_pathway', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_referral_pathway') }}
)

select
    geography_level,
    geography_code,
    geography_name,
    coalesce(region_code, 'UNK') as region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    month,
    financial_year,
    category,
    value,
    {{ round_count('referrals') }} as referrals,
    {{ round_count('referrals_total') }} as referrals_total,
    {{ mean_from_rounded('referrals', 'referrals_total', 100) }} as pct_of_referrals,
    is_suppressed
from mart
