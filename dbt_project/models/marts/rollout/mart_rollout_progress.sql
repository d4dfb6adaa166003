-- Progress against the national ambition (methods §6) per geography level and financial year:
-- people referred (index referrals) cumulatively against the pro-rata share of
-- var national_referral_ambition, and link-worker WTE in post against the ARRS entitlement.
-- Population, WTE and entitlement are as at the last reported month of the financial year; the
-- programme cost (methods §5) is the WTE in post month by month over the year, as WTE-years, times
-- var link_worker_cost_per_wte_year.
with pcn_month as (
    select * from {{ ref('mart_rollout_pcn_month') }}
),

-- Referrals with no PCN at all still count towards England's total.
unattributed as (
    select
        {{ financial_year('referral_date') }} as financial_year,
        count(*) as referrals,
        sum(case when is_index_referral then 1 else 0 end) as people_referred
    from {{ ref('int_referrals_attributed') }}
    where pcn_code is null
    group by {{ financial_year('referral_date') }}
),

as_at as (
    select
        financial_year,
        max(month) as as_at_month
    from pcn_month
    group by financial_year
),

long_form as (
    {%- for l in reporting_levels() %}
        select
            {{ geography_level_columns(l) }},
            month,
            financial_year,
            registered_population,
            arrs_entitlement_wte,
            link_worker_wte,
            referrals,
            people_referred
        from pcn_month
        {%- if l.level != 'england' %}
            where {{ l.code }} is not null
        {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

in_year as (
    select
        l.geography_level,
        l.geography_code,
        l.financial_year,
        a.as_at_month,
        max(case when l.month = a.as_at_month then l.geography_name end) as name_as_at,
        max(l.geography_name) as any_name,
        max(case when l.month = a.as_at_month then l.region_code end) as region_as_at,
        max(l.region_code) as any_region,
        coalesce(sum(case when l.month = a.as_at_month then l.registered_population end), 0)
            as registered_population,
        -- Decimal sums so that WTE totals carry no binary noise.
        coalesce(sum(
            case when l.month = a.as_at_month then cast(l.arrs_entitlement_wte as {{ type_exact_decimal() }}) end
        ), 0) as arrs_entitlement_wte,
        coalesce(sum(
            case when l.month = a.as_at_month then cast(l.link_worker_wte as {{ type_exact_decimal() }}) end
        ), 0) as link_worker_wte,
        coalesce(sum(cast(l.link_worker_wte as {{ type_exact_decimal() }})), 0) / 12 as link_worker_wte_years,
        sum(l.referrals) as referrals,
        sum(l.people_referred) as people_referred
    from long_form as l
    inner join as_at as a on l.financial_year = a.financial_year
    group by l.geography_level, l.geography_code, l.financial_year, a.as_at_month
),

with_unattributed as (
    select
        i.geography_level,
        i.geography_code,
        i.financial_year,
        i.as_at_month,
        coalesce(i.name_as_at, i.any_name) as geography_name,
        coalesce(i.region_as_at, i.any_region) as region_code,
        i.registered_population,
        i.arrs_entitlement_wte,
        i.link_worker_wte,
        i.link_worker_wte_years,
        i.referrals + case when i.geography_level = 'england' then coalesce(u.referrals, 0) else 0 end
            as referrals,
        i.people_referred + case when i.geography_level = 'england' then coalesce(u.people_referred, 0) else 0 end
            as people_referred
    from in_year as i
    left join unattributed as u on i.financial_year = u.financial_year
),

cumulative as (
    select
        w.geography_level,
        w.geography_code,
        w.financial_year,
        sum(e.referrals) as cumulative_all_referrals,
        sum(e.people_referred) as cumulative_people_referred
    from with_unattributed as w
    inner join with_unattributed as e
        on
            w.geography_level = e.geography_level
            and w.geography_code = e.geography_code
            and w.financial_year >= e.financial_year
    group by w.geography_level, w.geography_code, w.financial_year
),

final as (
    select
        w.geography_level,
        w.geography_code,
        w.geography_name,
        w.region_code,
        w.financial_year,
        w.as_at_month,
        cast(w.registered_population as bigint) as registered_population,
        -- The ambition counts people: `referrals` are people referred (index referrals); every
        -- referral, re-referrals included, is in all_referrals.
        cast(w.people_referred as bigint) as referrals,
        cast(c.cumulative_people_referred as bigint) as cumulative_referrals,
        cast(w.referrals as bigint) as all_referrals,
        cast(c.cumulative_all_referrals as bigint) as cumulative_all_referrals,
        '{{ var("ambition_financial_year") }}' as ambition_financial_year,
        w.financial_year = '{{ var("ambition_financial_year") }}' as is_ambition_year,
        cast(
            {{ ratio(
                var('national_referral_ambition') ~ ' * cast(w.registered_population as ' ~ type_exact_decimal() ~ ')',
                var('england_registered_population')
            ) }}
            as {{ type_double() }}
        ) as pro_rata_ambition,
        cast(w.arrs_entitlement_wte as {{ type_double() }}) as arrs_entitlement_wte,
        cast(w.link_worker_wte as {{ type_double() }}) as link_worker_wte,
        cast(w.arrs_entitlement_wte - w.link_worker_wte as {{ type_double() }}) as gap_wte,
        cast({{ ratio('100.0 * w.link_worker_wte', 'nullif(w.arrs_entitlement_wte, 0)') }} as {{ type_double() }})
            as wte_pct_of_entitlement,
        cast(w.link_worker_wte_years as {{ type_double() }}) as link_worker_wte_years,
        cast(w.link_worker_wte_years * {{ var('link_worker_cost_per_wte_year') }} as {{ type_double() }})
            as programme_cost_gbp
    from with_unattributed as w
    inner join cumulative as c
        on
            w.geography_level = c.geography_level
            and w.geography_code = c.geography_code
            and w.financial_year = c.financial_year
)

select
    *,
    cast(100.0 * cumulative_referrals / nullif(pro_rata_ambition, 0) as {{ type_double() }})
        as pct_of_ambition
from final
