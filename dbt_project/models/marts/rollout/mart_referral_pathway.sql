-- The referral pathway (methods §6 monitoring) by geography level and referral month, unsuppressed:
-- how many referrals came from each source, for each reason, led to each activity and ended in each
-- outcome. Reasons and activities are ';' lists: a referral counts once under every value it lists,
-- and under 'not_recorded' when the list is empty. Referrals are placed like every rollout figure
-- (PCN by pcn_code, else the referring practice's PCN; that PCN's hierarchy in the month).
with referrals as (
    select * from {{ ref('int_referrals_attributed') }}
),

pcn_month as (
    select * from {{ ref('int_rollout_pcn_month') }}
),

placed as (
    select
        r.referral_id,
        r.referral_month as month,
        r.referral_source,
        r.referral_reasons,
        r.activities,
        r.outcome,
        r.pcn_code,
        p.pcn_name,
        p.sub_icb_code,
        p.sub_icb_name,
        p.icb_code,
        p.icb_name,
        p.region_code,
        p.region_name
    from referrals as r
    left join pcn_month as p on r.pcn_code = p.pcn_code and r.referral_month = p.month
),

reasons as (
    select
        p.referral_id,
        nullif(trim(l.reason), '') as value
    from placed as p
    cross join lateral {{ split_list('p.referral_reasons') }} as l (reason)
),

activities as (
    select
        p.referral_id,
        nullif(trim(l.activity), '') as value
    from placed as p
    cross join lateral {{ split_list('p.activities') }} as l (activity)
),

recorded_reasons as (
    select distinct
        referral_id,
        value
    from reasons
    where value is not null
),

recorded_activities as (
    select distinct
        referral_id,
        value
    from activities
    where value is not null
),

referral_values as (
    select
        referral_id,
        'referral_source' as category,
        referral_source as value
    from placed
    union all
    select
        referral_id,
        'outcome' as category,
        outcome as value
    from placed
    union all
    select
        referral_id,
        'referral_reason' as category,
        value
    from recorded_reasons
    union all
    select
        p.referral_id,
        'referral_reason' as category,
        'not_recorded' as value
    from placed as p
    left join recorded_reasons as r on p.referral_id = r.referral_id
    where r.referral_id is null
    union all
    select
        referral_id,
        'activity' as category,
        value
    from recorded_activities
    union all
    select
        p.referral_id,
        'activity' as category,
        'not_recorded' as value
    from placed as p
    left join recorded_activities as a on p.referral_id = a.referral_id
    where a.referral_id is null
),

long_form as (
    {%- for l in reporting_levels() %}
        select
            {{ geography_level_columns(l) }},
            referral_id,
            month
        from placed
        {%- if l.level != 'england' %}
            where {{ l.code }} is not null
        {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

totals as (
    select
        geography_level,
        geography_code,
        month,
        count(*) as referrals_total
    from long_form
    group by geography_level, geography_code, month
),

counts as (
    select
        l.geography_level,
        l.geography_code,
        max(l.geography_name) as geography_name,
        max(l.region_code) as region_code,
        l.month,
        v.category,
        v.value,
        count(*) as referrals
    from long_form as l
    inner join referral_values as v on l.referral_id = v.referral_id
    group by l.geography_level, l.geography_code, l.month, v.category, v.value
)

select
    c.geography_level,
    c.geography_code,
    c.geography_name,
    c.region_code,
    c.month,
    {{ financial_year('c.month') }} as financial_year,
    c.category,
    c.value,
    c.referrals,
    t.referrals_total,
    cast(100.0 * c.referrals / nullif(t.referrals_total, 0) as {{ type_double() }}) as pct_of_referrals
from counts as c
inner join totals as t
    on
        c.geography_level = t.geography_level
        and c.geography_code = t.geography_code
        and c.month = t.month
