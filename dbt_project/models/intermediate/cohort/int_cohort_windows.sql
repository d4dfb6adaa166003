-- Index patient x window W: calendar-month window bounds and eligibility (methods §1).
-- pre = [index - W months, index), post = (index, index + W months]; the index day is in neither.
-- Exclusion reasons are assigned in a fixed order: incomplete follow-up, then not registered
-- throughout, then died; each patient is counted under the first rule it fails.
with index_referrals as (
    select * from {{ ref('int_index_referrals') }}
),

cutoff as (
    select cutoff_date from {{ ref('int_data_cutoff') }}
),

windows as (
    {%- for w in cohort_window_months() %}
        select {{ w }} as window_months
        {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

bounded as (
    select
        i.*,
        w.window_months,
        c.cutoff_date,
        {{ add_months('i.index_date', '-1 * w.window_months') }} as pre_start,
        {{ add_months('i.index_date', 'w.window_months') }} as post_end
    from index_referrals as i
    cross join windows as w
    cross join cutoff as c
),

flagged as (
    select
        *,
        coalesce(post_end <= cutoff_date, false) as has_complete_follow_up,
        coalesce(
            registration_start_date <= pre_start
            and (registration_end_date is null or registration_end_date >= post_end),
            false
        ) as is_registered_throughout,
        (date_of_death is null or date_of_death > post_end) as is_alive_throughout
    from bounded
)

select
    *,
    case
        when not has_complete_follow_up then 'incomplete_follow_up'
        when not is_registered_throughout then 'not_registered_throughout'
        when not is_alive_throughout then 'died'
    end as exclusion_reason,
    (has_complete_follow_up and is_registered_throughout and is_alive_throughout) as is_eligible
from flagged
