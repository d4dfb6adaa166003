{{ config(pre_hook=["{{ avoid_nested_loops() }}", "{{ prefer_hash_aggregation() }}"]) }}

-- Per measure, treated cell (cohort g x stratum) and practice (methods §4b): the treated patients' sums
-- by event month (ty_*) and their base-block mean monthly counts (base_sum, engaged_base_sum for the
-- engaged), from the class panel. One row per cell-practice with an event of the measure in the
-- window; the others' sums are 0. It reads only the panel and the treated, so it is built beside the
-- controls' sums, not after them.
{%- set base = sdid_base_range() %}
with treated as (
    select * from {{ ref('int_sdid_treated') }}
),

treated_classes as (
    -- a class's treated patients share cohort, cell, practice and engagement
    select distinct
        class_seq,
        g,
        stratum_sub_icb,
        stratum_sex,
        stratum_age_band,
        stratum_imd_quintile,
        practice_code,
        is_engaged
    from treated
),

treated_months as (
    -- the treated classes' panel months of their window, with their cell and practice
    select
        m.measure,
        t.g,
        t.stratum_sub_icb,
        t.stratum_sex,
        t.stratum_age_band,
        t.stratum_imd_quintile,
        t.practice_code,
        t.is_engaged,
        m.month_index - t.g as e,
        m.y
    from treated_classes as t
    inner join {{ ref('int_sdid_class_months') }} as m
        on
            t.class_seq = m.class_seq
            and m.month_index between t.g - {{ sdid_lead() }} and t.g + 12
)

-- per measure, cell and practice: the treated patients' counts by event month and base-block
-- means; a cell-practice with no event of a measure has no row (its sums are 0)
select
    measure,
    g,
    stratum_sub_icb,
    stratum_sex,
    stratum_age_band,
    stratum_imd_quintile,
    practice_code,
    {%- for ev in sdid_events() %}
        sum(case when e = {{ ev.e }} then y else 0 end) as ty_{{ ev.col }},
    {%- endfor %}
    cast(sum(case when e between {{ base[0] }} and {{ base[1] }} then y else 0 end) as {{ type_double() }})
    / {{ base[1] - base[0] + 1 }} as base_sum,
    cast(
        sum(case when is_engaged and e between {{ base[0] }} and {{ base[1] }} then y else 0 end)
        as {{ type_double() }}
    )
    / {{ base[1] - base[0] + 1 }} as engaged_base_sum
from treated_months
group by measure, g, stratum_sub_icb, stratum_sex, stratum_age_band, stratum_imd_quintile, practice_code
