-- Eligible index patient x window x measure with its controls' mean pre/post counts and the
-- patient's difference-in-differences contribution e_i (methods §4 v2). The controls' means are
-- taken month by month over the controls still unreferred (int_did_control_spans):
-- control_post_mean - control_pre_mean = sum over months k of c_ik, and
-- e_i = (post_i - pre_i) - (control_post_mean - control_pre_mean). Index rows with no control, or
-- whose controls were all referred before the window ended, are unmatched and keep NULLs.
with index_measures as (
    select * from {{ ref('int_cohort_measures') }}
),

index_practices as (
    -- the practice an index patient's influence belongs to (methods §4c): its own registration
    select
        patient_key,
        practice_code
    from {{ ref('int_index_referrals') }}
),

chosen_controls as (
    select
        index_key,
        window_months,
        count(*) as n_controls
    from {{ ref('int_matched_controls') }}
    group by index_key, window_months
),

span_means as (
    -- c_ik summed over the months of a span: the mean over the controls counting in it
    select
        index_key,
        window_months,
        measure,
        span_end,
        -- exact decimals: Spark keeps 10 places of the mean of a decimal(28, 6), 18 or more of this one
        avg(cast(pre_share as {{ type_exact_decimal() }})) as span_pre_mean,
        avg(cast(post_count as {{ type_exact_decimal() }})) as span_post_mean
    from {{ ref('int_did_control_spans') }}
    group by index_key, window_months, measure, span_end
),

control_means as (
    select
        index_key,
        window_months,
        measure,
        sum(span_pre_mean) as control_pre_mean,
        sum(span_post_mean) as control_post_mean
    from span_means
    group by index_key, window_months, measure
)

select
    i.patient_key,
    i.window_months,
    i.measure,
    i.pre_count,
    i.post_count,
    coalesce(n.n_controls, 0) as n_controls,
    c.index_key is not null as is_matched,
    c.control_pre_mean,
    c.control_post_mean,
    (i.post_count - i.pre_count) - (c.control_post_mean - c.control_pre_mean) as did_contribution,
    p.practice_code
from index_measures as i
left join control_means as c
    on
        i.patient_key = c.index_key
        and i.window_months = c.window_months
        and i.measure = c.measure
left join chosen_controls as n
    on
        i.patient_key = n.index_key
        and i.window_months = n.window_months
left join index_practices as p on i.patient_key = p.patient_key
