{{ config(alias='mart_headline_effects') }}
-- The primary effect (methods §4b, staggered difference-in-differences, cumulative 12 months) of
-- each headline measure as one plain sentence per area, cohort year and population, for dashboards
-- and the board pack. Built from published.mart_staggered_did only (through its by-area copy), so
-- every number in a sentence is one the published table already shows: disclosure control holds.
-- A sentence says "too few people to estimate" instead of a number when the published estimate or
-- its interval is NULL (fewer than 8 people, or fewer than 20 practices) or when the interval's
-- half-width exceeds var headline_max_ci_half_width_pct points of use before referral.
{%- set max_half_width = var('headline_max_ci_half_width_pct') %}
{%- set area_columns = [
    'geography_level', 'geography_code', 'geography_name', 'region_code', 'icb_code', 'sub_icb_code',
    'pcn_code', 'region_name', 'icb_name',
    'sub_icb_name', 'pcn_name', 'cohort_fy', 'population', 'measure', 'measure_label', 'measure_order'
] %}
with effects as (
    select *
    from {{ ref('pub_mart_staggered_did_by_area') }}
    where estimate = 'cumulative_12m'
),

headline_measures as (
    select
        measure,
        sentence_noun,
        sentence_decimals
    from {{ ref('ref_measure_labels') }}
    where is_headline
),

judged as (
    select
        effects.*,
        headline_measures.sentence_noun,
        headline_measures.sentence_decimals as shown_dp,
        case
            when effects.att is null then 'fewer than {{ var("suppress_below") }} people'
            when effects.att_ci_low is null or effects.att_pct_ci_low is null
                then 'no interval (too few practices, or no use before referral)'
            when (effects.att_pct_ci_high - effects.att_pct_ci_low) / 2 > {{ max_half_width }}
                then 'interval wider than +/-{{ max_half_width }}% of use before referral'
        end as not_estimable_reason
    from effects
    inner join headline_measures
        on effects.measure = headline_measures.measure
),

worded as (
    -- the figures as the sentence prints them (sentence_decimals places); fewer/more follows the
    -- printed figure, so a value that rounds to 0 reads "no difference" rather than "0.0 fewer"
    select
        *,
        {{ figure_in_words('att', 'shown_dp', "' fewer'", "' more'", "'no more and no fewer'") }} as att_words,
        {{ figure_in_words('att_ci_low', 'shown_dp', "' fewer'", "' more'", "'no difference'") }} as low_words,
        {{ figure_in_words('att_ci_high', 'shown_dp', "' fewer'", "' more'", "'no difference'") }} as high_words
    from judged
)

select
    {%- for c in area_columns %}
        {{ c }},
    {%- endfor %}
    n_treated,
    n_clusters,
    att,
    att_ci_low,
    att_ci_high,
    att_pct,
    att_pct_ci_low,
    att_pct_ci_high,
    pretrend_p,
    not_estimable_reason is null as is_estimable,
    not_estimable_reason,
    case
        when not_estimable_reason is not null
            then measure_label || ': too few people to estimate.'
        else
            case when population = 'engaged' then 'People referred who engaged had ' else 'People referred had ' end
            || att_words || ' ' || sentence_noun
            || ' each over the following year than similar people not yet referred (95% CI '
            || low_words || ' to ' || high_words || ').'
    end as sentence
from worded
