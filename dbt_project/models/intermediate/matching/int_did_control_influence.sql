-- The controls' share of the matched estimate's influence function (methods §4c), per index row,
-- measure and control practice: a control's term is minus its own change in a span minus the mean
-- change of the controls counting in that span, over their number (its weight), summed over the
-- spans (int_did_control_spans). The terms of an index row sum to zero; they move its variance to
-- the practices its controls belong to.
with spans as (
    select
        *,
        post_count - pre_share as change
    from {{ ref('int_did_control_spans') }}
),

span_means as (
    select
        index_key,
        window_months,
        measure,
        span_end,
        avg(change) as mean_change
    from spans
    group by index_key, window_months, measure, span_end
)

select
    s.index_key,
    s.window_months,
    s.measure,
    s.control_practice_code as practice_code,
    sum({{ ratio('-(s.change - m.mean_change)', 's.n_counting') }}) as control_influence
from spans as s
inner join span_means as m
    on
        s.index_key = m.index_key
        and s.window_months = m.window_months
        and s.measure = m.measure
        and s.span_end = m.span_end
group by s.index_key, s.window_months, s.measure, s.control_practice_code
