-- Monthly rollout series for run charts (methods §6, §9): referrals, referrals per 1,000 registered
-- patients and caseload per link-worker WTE, per England, region and ICB and month, from the
-- disclosure-controlled counts (0 stays 0, 1-7 NULL, 8+ rounded to 5; rates from the rounded counts).
-- The run charts' limits are computed on these published values, never on exact ones: a mean of exact
-- monthly counts over a known number of months gives the exact total back.
{%- set levels = reporting_levels() | selectattr('level', 'in', ['england', 'region', 'icb']) | list %}
with pcn_month as (
    select * from {{ ref('mart_rollout_pcn_month') }}
),

-- Referrals with no PCN at all count at England level only, as in mart_rollout_progress.
unattributed as (
    select
        referral_month as month,
        count(*) as referrals
    from {{ ref('int_referrals_attributed') }}
    where pcn_code is null
    group by referral_month
),

long_form as (
    {%- for l in levels %}
        select
            {{ geography_level_columns(l) }},
            month,
            referrals,
            registered_population,
            link_worker_wte
        from pcn_month
        {%- if l.level != 'england' %}
            where {{ l.code }} is not null
        {%- endif %}
        union all
    {%- endfor %}
    select
        'england' as geography_level,
        'ENG' as geography_code,
        'England' as geography_name,
        'ENG' as region_code,
        month,
        referrals,
        0 as registered_population,
        0 as link_worker_wte
    from unattributed
),

area_month as (
    select
        geography_level,
        geography_code,
        month,
        max(geography_name) as geography_name,
        max(region_code) as region_code,
        sum(referrals) as referrals,
        sum(registered_population) as registered_population,
        -- decimal sum: WTE totals without binary noise
        sum(cast(link_worker_wte as {{ type_exact_decimal() }})) as link_worker_wte
    from long_form
    group by geography_level, geography_code, month
),

published_counts as (
    select
        geography_level,
        geography_code,
        geography_name,
        region_code,
        month,
        {{ round_count('referrals') }} as referrals,
        {{ round_count('registered_population') }} as registered_population,
        cast(link_worker_wte as {{ type_double() }}) as link_worker_wte,
        {{ suppress_flag(['referrals', 'registered_population']) }} as is_suppressed
    from area_month
),

measures as (
    select
        *,
        'referrals' as measure,
        cast(referrals as {{ type_double() }}) as value
    from published_counts
    union all
    select
        *,
        'referrals_per_1000_annualised' as measure,
        cast(12000.0 * referrals / nullif(registered_population, 0) as {{ type_double() }}) as value
    from published_counts
    union all
    select
        *,
        'caseload_per_wte_annualised' as measure,
        cast(12.0 * referrals / nullif(link_worker_wte, 0) as {{ type_double() }}) as value
    from published_counts
)

select
    cast(geography_level as {{ dbt.type_string() }}) as geography_level,
    geography_code,
    geography_name,
    coalesce(region_code, 'UNK') as region_code,
    cast(measure as {{ dbt.type_string() }}) as measure,
    month,
    value,
    referrals,
    registered_population,
    link_worker_wte,
    is_suppressed
from measures
