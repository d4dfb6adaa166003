-- Index rows (int_match_index) and when their matching was last invalidated (todo_at): the matching
-- stages recompute the rows invalidated after their own last build (macros/incremental.sql).
-- A row is invalidated when it is new, when its matching keys changed, when its year's ring was rebuilt
-- after it (int_match_ring), or when a patient on its ring has a referral loaded or replaced since,
-- dated on or before its post_end (referred people cannot be controls). Otherwise it keeps its todo_at.
-- depends_on: {{ source('audit', 'replaced_records') }}, {{ ref('int_raw_state') }}
{{ config(
    materialized='incremental',
    unique_key=['index_key', 'window_months'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook=["{{ avoid_nested_loops() }}", "{{ forget_if_raw_drifted(this, referral_inputs()) }}"],
    post_hook="{{ forget_rows_missing_from(this, ref('int_match_index'), ['index_key', 'window_months']) }}",
) }}
{%- set keyed = ['index_date', 'pre_start', 'post_end', 'sex', 'sub_icb_code', 'age_band', 'imd_quintile',
    'gp_appointments_band', 'emergency_admissions_band', 'ae_attendances_band'] %}

with index_rows as (
    select
        index_key,
        window_months,
        index_year,
        sex,
        sub_icb_code,
        imd_quintile,
        age_band,
        post_end,
        {{ dbt.hash(dbt.concat(matching_key_parts(keyed))) }} as matching_hash
    from {{ ref('int_match_index') }}
),

ring_years as (
    select
        index_year,
        max(built_at) as ring_built_at
    from {{ ref('int_match_ring') }}
    group by index_year
),

{%- if is_incremental() %}

    previous as (
        select
            index_key,
            window_months,
            matching_hash,
            todo_at
        from {{ this }}
    ),

    referral_changes as (
        select
            patient_key,
            referral_date
        from {{ ref('stg_case_management__referrals') }}
        where loaded_at > {{ loaded_since(this, referral_inputs()) }}
        union all
        select
            patient_key,
            cast({{ record_field('record', 'referral_date') }} as date) as referral_date
        from {{ source('audit', 'replaced_records') }}
        where source = 'sp_referrals' and replaced_at > {{ loaded_since(this, referral_inputs()) }}
    ),

    referral_touched as (
        select distinct
            i.index_key,
            i.window_months
        from referral_changes as c
        inner join {{ ref('int_match_ring') }} as r on c.patient_key = r.patient_key
        inner join index_rows as i
            on
                {{ same_stratum('i', 'r') }}
                and c.referral_date <= i.post_end
    ),
{%- endif %}

state as (
    {{ input_state(referral_inputs()) }}
)

select
    i.index_key,
    i.window_months,
    i.index_year,
    i.matching_hash,
    {%- if is_incremental() %}
        case
            when
                p.todo_at is not null
                and p.matching_hash = i.matching_hash
                and (y.ring_built_at is null or y.ring_built_at <= p.todo_at)
                and t.index_key is null
                then p.todo_at
            else {{ run_marker() }}
        end as todo_at,
    {%- else %}
        {{ run_marker() }} as todo_at,
    {%- endif %}
    s.loaded_through,
    s.raw_drift
from index_rows as i
cross join state as s
{%- if is_incremental() %}
    left join ring_years as y on i.index_year = y.index_year  -- noqa: ST11
    left join previous as p  -- noqa: ST11
        on
            i.index_key = p.index_key
            and i.window_months = p.window_months
    left join referral_touched as t  -- noqa: ST11
        on
            i.index_key = t.index_key
            and i.window_months = t.window_months
{%- endif %}
