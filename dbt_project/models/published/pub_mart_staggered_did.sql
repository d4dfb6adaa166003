{{ config(alias='mart_staggered_did') }}
-- Published twin of marts.mart_staggered_did with methods §9 (v2) applied at every geography level,
-- England included: counts of people 0 stay 0, 1-7 are NULL, 8+ are rounded to 5; the base mean and
-- engaged share are recomputed from rounded numerators and denominators; model estimates are
-- published to 2 decimal places (percentages to 1, p-values to 3) and only for groups of 8 or more
-- treated patients; counts that would give a suppressed one away are withheld (secondary
-- suppression, mart_disclosure_withheld) and so are the estimates of a withheld n_treated.
{%- set below = var('suppress_below') | int %}
with mart_rows as (
    {{ with_geography_ancestors(ref('mart_staggered_did')) }}
),

-- counts NULL where withheld (primary or secondary suppression, docs/methods.md §6)
mart as (
    {%- set carried = ['geography_level', 'geography_code', 'geography_name', 'region_code', 'cohort_fy',
        'population', 'measure', 'estimate', 'event_month', 'n_clusters', 'treated_base_mean', 'att',
        'att_se', 'att_ci_low', 'att_ci_high', 'att_pct', 'att_pct_ci_low', 'att_pct_ci_high', 'band_low',
        'band_high', 'pretrend_p', 'engaged_share'
    ] %}
    select
        {{ published_counts('mart_staggered_did', carried) }}
    from mart_rows
    inner join {{ ref('mart_disclosure_withheld') }} as withheld on {{ withheld_row('mart_staggered_did') }}
),

rounded as (
    select
        *,
        coalesce(n_treated >= {{ below }}, false) as is_published,
        {{ sdid_published_count('n_treated') }} as n_treated_rounded,
        {{ sdid_published_count('cast(' ~ round_half_even('treated_base_mean * 12 * n_treated') ~ ' as '
            ~ dbt.type_bigint() ~ ')') }} as base_events_rounded,
        {{ sdid_published_count('cast(' ~ round_half_even('engaged_share * n_treated') ~ ' as '
            ~ dbt.type_bigint() ~ ')') }} as engaged_rounded
    from mart
)

select
    geography_level,
    geography_code,
    geography_name,
    region_code,
    cohort_fy,
    population,
    measure,
    estimate,
    event_month,
    n_treated_rounded as n_treated,
    {{ sdid_published_count('n_unmatched') }} as n_unmatched,
    {{ sdid_published_count('n_control_patients') }} as n_control_patients,
    n_clusters,
    case
        when is_published
            then round(cast(base_events_rounded as {{ type_exact_decimal() }}) / (12 * n_treated_rounded), 2)
    end as treated_base_mean,
    {%- for c in ['att', 'att_se', 'att_ci_low', 'att_ci_high', 'band_low', 'band_high'] %}
        case when is_published then {{ round_published(c, 2) }} end as {{ c }},
    {%- endfor %}
    {%- for c in ['att_pct', 'att_pct_ci_low', 'att_pct_ci_high'] %}
        case when is_published then {{ round_published(c, 1) }} end as {{ c }},
    {%- endfor %}
    case when is_published then {{ round_published('pretrend_p', 3) }} end as pretrend_p,
    case
        when is_published and engaged_share is not null
            then round(cast(engaged_rounded as {{ type_exact_decimal() }}) / n_treated_rounded, 3)
    end as engaged_share,
    is_suppressed
from rounded
