{#- Definitions of the cohort and its measures (methods §1-§4), shared by the intermediate models. -#}

{#- Methods §1: the data cut-off. var data_cutoff_date when set; otherwise the earliest of the latest
    appointment, arrival and admission dates loaded (a source with no rows is ignored). -#}
{% macro data_cutoff_date() -%}
    {%- set cutoff = var('data_cutoff_date', none) -%}
    {%- if cutoff -%}
        cast('{{ cutoff }}' as date)
    {%- else -%}
        {{ return(adapter.dispatch('data_cutoff_from_sources', 'spw')()) }}
    {%- endif -%}
{%- endmacro %}

{#- The latest dates come from int_raw_state (read in its one pass over raw); min() skips NULLs,
    which is what "a source with no rows is ignored" needs. -#}
{% macro default__data_cutoff_from_sources() -%}
    (
        select min(last_activity_date) from {{ ref('int_raw_state') }}
        where source in ('gp_appointments', 'ae_attendances', 'inpatient_admissions')
    )
{%- endmacro %}

{#- Methods §2, in the order the marts list them (macros/measures.sql defines them). -#}
{% macro demand_measures() -%}
    {%- set names = [] -%}
    {%- for m in event_measures() -%}{%- do names.append(m.measure) -%}{%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- Measures used for the exact-match bands of methods §4. -#}
{% macro matching_measures() -%}
    {{ return(['gp_appointments', 'emergency_admissions', 'ae_attendances']) }}
{%- endmacro %}

{#- var window_months as a list of integers (accepts a list, a single number or "6,12"). -#}
{% macro standard_window_months() -%}
    {%- set configured = var('window_months', [6, 12]) -%}
    {%- if configured is number -%}
        {%- set configured = [configured] -%}
    {%- elif configured is string -%}
        {%- set configured = configured.split(',') -%}
    {%- endif -%}
    {%- set months = [] -%}
    {%- for w in configured -%}
        {%- if (w | int) not in months -%}{%- do months.append(w | int) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(months | sort) }}
{%- endmacro %}

{#- Windows to build: var window_months for the standard design, plus 12 for the two replications. -#}
{% macro cohort_window_months() -%}
    {%- set months = standard_window_months() -%}
    {%- if 12 not in months -%}{%- do months.append(12) -%}{%- endif -%}
    {{ return(months | sort) }}
{%- endmacro %}

{#- Inline table of values: one column per name, one row per tuple. -#}
{% macro values_table(columns, rows) -%}
    {%- for row in rows %}
    select
        {%- for value in row %}
        {{ value }} as {{ columns[loop.index0] }}{{ ',' if not loop.last }}
        {%- endfor %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Methods §4 bands. -#}
{% macro age_band_10(age_expr) -%}
    least(cast(floor(({{ age_expr }}) / 10.0) as integer), 8)
{%- endmacro %}

{% macro imd_quintile(decile_expr) -%}
    coalesce(cast(cast(ceil(({{ decile_expr }}) / 2.0) as integer) as {{ dbt.type_string() }}), 'unknown')
{%- endmacro %}

{% macro gp_appointments_band(n) -%}
    case
        when {{ n }} = 0 then '0'
        when {{ n }} <= 2 then '1-2'
        when {{ n }} <= 5 then '3-5'
        when {{ n }} <= 11 then '6-11'
        else '12+'
    end
{%- endmacro %}

{% macro zero_one_two_band(n) -%}
    case when {{ n }} = 0 then '0' when {{ n }} = 1 then '1' else '2+' end
{%- endmacro %}

{#- First and last day of a calendar year given as an integer expression. -#}
{% macro year_start(year_expr) -%}
    cast(cast({{ year_expr }} as {{ dbt.type_string() }}) || '-01-01' as date)
{%- endmacro %}

{% macro year_end(year_expr) -%}
    cast(cast({{ year_expr }} as {{ dbt.type_string() }}) || '-12-31' as date)
{%- endmacro %}

{#- Methods §4 rules a candidate j must pass for index row i (aliases), besides the ring key:
    registered from t - W to t + W months, alive after t + W months, never referred on or before
    t + W months (f: the candidate's row of int_match_first_referrals, left-joined). -#}
{% macro candidate_is_eligible(i, c, f) -%}
    {{ c }}.registration_start_date <= {{ i }}.pre_start
    and ({{ c }}.registration_end_date is null or {{ c }}.registration_end_date >= {{ i }}.post_end)
    and ({{ c }}.date_of_death is null or {{ c }}.date_of_death > {{ i }}.post_end)
    and ({{ f }}.first_referral_date is null or {{ f }}.first_referral_date > {{ i }}.post_end)
{%- endmacro %}

{#- Methods §4 bands as ranks (0 = lowest band), to compare a band with an upper bound. -#}
{% macro gp_appointments_band_rank(n) -%}
    case
        when {{ n }} = 0 then 0
        when {{ n }} <= 2 then 1
        when {{ n }} <= 5 then 2
        when {{ n }} <= 11 then 3
        else 4
    end
{%- endmacro %}

{% macro zero_one_two_band_rank(n) -%}
    least({{ n }}, 2)
{%- endmacro %}

{#- Events in `dates` over every day a pre-window of an index date in calendar year `year_expr` can
    cover: [1 January - longest_window months, 31 December). -#}
{% macro bound_count(dates, year_expr, longest_window) -%}
    {{ dates_between(dates, add_months(year_start(year_expr), -1 * longest_window), year_end(year_expr)) }}
{%- endmacro %}

{#- The ring key of methods §4's demographic strata, compared between aliases a and b. -#}
{% macro same_stratum(a, b) -%}
    {{ a }}.sub_icb_code = {{ b }}.sub_icb_code
    and {{ a }}.sex = {{ b }}.sex
    and {{ a }}.imd_quintile = {{ b }}.imd_quintile
    and {{ a }}.index_year = {{ b }}.index_year
    and {{ a }}.age_band = {{ b }}.age_band
{%- endmacro %}

{#- The CTE `positioned`: the rows of `index_rows` (int_match_index columns) with the index patient's
    own place on its ring (ring_rank, ring_size). -#}
{% macro ring_positioned(index_rows) -%}
positioned as (
    select
        i.*,
        r.ring_rank,
        r.ring_size
    from {{ index_rows }} as i
    inner join {{ ref('int_match_ring') }} as r
        on
            i.index_key = r.patient_key
            and {{ same_stratum('i', 'r') }}
)
{%- endmacro %}

{#- Every rule of methods §4 a ring member r must pass for index row i (r is already in i's
    demographic stratum): eligible as if indexed at t, practice on day t in i's sub-ICB (members whose
    practice was re-mapped during the year are settled by ring_pairs_on_day_t), and the same three
    pre-window bands, counted exactly on the member's timelines (f: the member's first referral). -#}
{% macro candidate_passes(i, r, f) -%}
    {{ candidate_is_eligible(i, r, f) }}
    and (
        {{ r }}.has_practice_change
        or ({{ i }}.index_date >= {{ r }}.practice_valid_from and {{ i }}.index_date < {{ r }}.practice_valid_to)
    )
    and {{ gp_appointments_band(dates_between(r ~ '.gp_appointment_dates', i ~ '.pre_start', i ~ '.index_date')) }}
    = {{ i }}.gp_appointments_band
    and {{ zero_one_two_band(dates_between(r ~ '.emergency_admission_dates', i ~ '.pre_start', i ~ '.index_date')) }}
    = {{ i }}.emergency_admissions_band
    and {{ zero_one_two_band(dates_between(r ~ '.ae_attendance_dates', i ~ '.pre_start', i ~ '.index_date')) }}
    = {{ i }}.ae_attendances_band
{%- endmacro %}

{#- The final select of a matching stage over the CTE `passing` (index_key, window_months, index_date,
    sub_icb_code, control_key, control_practice_code, has_practice_change, hash_rank): members whose
    practice was re-mapped during the year are kept when the practice row valid on day t (latest
    valid_from when rows overlap) is in the index patient's sub-ICB. Rows carry `todo_through` (the
    state of int_match_todo they were built from, macros/incremental.sql). -#}
{% macro ring_pairs_on_day_t(passing, todo_through) -%}
, practice_rows as (
    select
        practice_code,
        sub_icb_code,
        valid_from,
        valid_to
    from {{ ref('int_practice_geography') }}
),

on_day_t as (
    select p.*
    from {{ passing }} as p
    inner join practice_rows as g
        on
            p.control_practice_code = g.practice_code
            and p.index_date >= g.valid_from
            and p.index_date < g.valid_to
    where
        p.has_practice_change
        and g.sub_icb_code = p.sub_icb_code
        and not exists (
            select 1
            from practice_rows as later
            where
                later.practice_code = g.practice_code
                and p.index_date >= later.valid_from
                and p.index_date < later.valid_to
                and later.valid_from > g.valid_from
        )
)

select
    index_key,
    window_months,
    control_key,
    hash_rank,
    {{ todo_through }} as todo_through
from {{ passing }}
where not has_practice_change
union all
select
    index_key,
    window_months,
    control_key,
    hash_rank,
    {{ todo_through }} as todo_through
from on_day_t
{%- endmacro %}

{#- The CTE `first_referrals`: people ever referred, with their first referral date (the rest never
    were; int_match_first_referrals), for candidate_is_eligible. -#}
{% macro first_referrals() -%}
first_referrals as (
    select * from {{ ref('int_match_first_referrals') }}
)
{%- endmacro %}

{#- Columns of a passing pair: index row i, ring member r, ring distance expression. -#}
{% macro passing_pair_columns(i, r, distance) -%}
    {{ i }}.index_key,
    {{ i }}.window_months,
    {{ i }}.index_date,
    {{ i }}.sub_icb_code,
    {{ r }}.patient_key as control_key,
    {{ r }}.practice_code as control_practice_code,
    {{ r }}.has_practice_change,
    {{ distance }} as hash_rank
{%- endmacro %}

{#- var match_candidate_pool as a positive integer (anything else falls back to the default 50). -#}
{% macro match_pool_size() -%}
    {%- set n = var('match_candidate_pool', 50) | int -%}
    {{ return(n if n > 0 else 50) }}
{%- endmacro %}

{#- Ring positions 1..n as a relation with column ring_distance (n <= 10000). -#}
{% macro ring_offsets(n) -%}
    select d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 1 as ring_distance
    from {{ digits() }} as d1
    cross join {{ digits() }} as d2
    cross join {{ digits() }} as d3
    cross join {{ digits() }} as d4
    where d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 1 <= {{ n }}
{%- endmacro %}

{% macro digits() -%}
    (
        {%- for d in range(10) %}
        select {{ d }} as d{{ ' union all' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- 0 .. n - 1 as a relation with column n. -#}
{% macro integers_below(n) -%}
    (
        {%- for i in range(n) %}
        select {{ i }} as n{{ ' union all' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
