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

{#- Postgres least() skips NULLs, which is what "a source with no rows is ignored" needs. -#}
{% macro default__data_cutoff_from_sources() -%}
    least(
        (select max(appointment_date) from {{ ref('stg_gp__appointments') }}),
        (select max(arrival_date) from {{ ref('stg_ecds__attendances') }}),
        (select max(admission_date) from {{ ref('stg_apc__admissions') }})
    )
{%- endmacro %}

{#- Methods §2, in the order the marts list them. -#}
{% macro demand_measures() -%}
    {{ return([
        'gp_appointments', 'gp_face_to_face', 'gp_telephone', 'gp_home_visit', 'gp_video_online',
        'practice_appointments', 'dna_appointments', 'ae_attendances', 'ae_type1_attendances',
        'ae_admitted', 'emergency_admissions', 'emergency_bed_days'
    ]) }}
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

{#- Sum of event values in the pre window [pre_start, index) and post window (index, post_end]. -#}
{% macro pre_window_sum(event_date, value, pre_start, index_date) -%}
    coalesce(sum(case when {{ event_date }} >= {{ pre_start }} and {{ event_date }} < {{ index_date }}
        then {{ value }} else 0 end), 0)
{%- endmacro %}

{% macro post_window_sum(event_date, value, index_date, post_end) -%}
    coalesce(sum(case when {{ event_date }} > {{ index_date }} and {{ event_date }} <= {{ post_end }}
        then {{ value }} else 0 end), 0)
{%- endmacro %}

{#- Deterministic pair hash used to choose controls (methods §4). -#}
{% macro pair_hash(index_key, control_key) -%}
    {{ dbt.hash(dbt.concat([index_key, "'|'", control_key])) }}
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
    t + W months, and practice on day t in the index patient's sub-ICB. `g` is the candidate's
    practice row valid on t. -#}
{% macro candidate_is_eligible(i, c) -%}
    {{ c }}.registration_start_date <= {{ i }}.pre_start
    and ({{ c }}.registration_end_date is null or {{ c }}.registration_end_date >= {{ i }}.post_end)
    and ({{ c }}.date_of_death is null or {{ c }}.date_of_death > {{ i }}.post_end)
    and ({{ c }}.first_referral_date is null or {{ c }}.first_referral_date > {{ i }}.post_end)
{%- endmacro %}

{#- Candidate pairs for `index_rows` (joined to their own ring position as i.ring_rank,
    i.ring_size) from `ring_candidates` (ring members with a `ring_distance` to i), keeping those
    eligible as if indexed at t and whose practice on day t (latest effective_from when rows
    overlap) is in the index patient's sub-ICB. -#}
{% macro eligible_ring_pairs(ring_candidates) -%}
    select
        c.index_key,
        c.window_months,
        c.index_date,
        c.pre_start,
        c.gp_appointments_band,
        c.emergency_admissions_band,
        c.ae_attendances_band,
        c.control_key,
        c.ring_distance as hash_rank,
        c.ring_size - 1 as n_candidates
    from (
        select
            rc.*,
            g.sub_icb_code as control_sub_icb_code,
            row_number() over (
                partition by rc.index_key, rc.window_months, rc.control_key order by g.valid_from desc
            ) as geography_seq
        from {{ ring_candidates }} as rc
        inner join {{ ref('int_match_population') }} as p on rc.control_key = p.patient_key
        inner join {{ ref('int_practice_geography') }} as g
            on
                p.practice_code = g.practice_code
                and rc.index_date >= g.valid_from
                and rc.index_date < g.valid_to
        where {{ candidate_is_eligible('rc', 'p') }}
    ) as c
    where c.geography_seq = 1 and c.control_sub_icb_code = c.sub_icb_code
{%- endmacro %}

{#- Pre-window counts of the matching measures for candidate pairs in `pairs`, and whether the
    candidate's bands equal the index patient's (one pass: no join back to the pairs). -#}
{% macro verify_candidate_bands(pairs) -%}
    select
        c.index_key,
        c.window_months,
        c.control_key,
        c.hash_rank,
        c.n_candidates,
        {%- for m in matching_measures() %}
        {{ pre_window_sum(
            "case when e.measure = '" ~ m ~ "' then e.event_date end", 'e.event_value', 'c.pre_start', 'c.index_date'
        ) }} as pre_{{ m }},
        {%- endfor %}
        (
            {{ gp_appointments_band(pre_window_sum(
                "case when e.measure = 'gp_appointments' then e.event_date end", 'e.event_value',
                'c.pre_start', 'c.index_date')) }} = c.gp_appointments_band
            and {{ zero_one_two_band(pre_window_sum(
                "case when e.measure = 'emergency_admissions' then e.event_date end", 'e.event_value',
                'c.pre_start', 'c.index_date')) }} = c.emergency_admissions_band
            and {{ zero_one_two_band(pre_window_sum(
                "case when e.measure = 'ae_attendances' then e.event_date end", 'e.event_value',
                'c.pre_start', 'c.index_date')) }} = c.ae_attendances_band
        ) as is_band_match
    from {{ pairs }} as c
    left join {{ ref('int_patient_events') }} as e
        on
            c.control_key = e.patient_key
            and e.measure in ({% for m in matching_measures() %}'{{ m }}'{{ ', ' if not loop.last }}{% endfor %})
            and e.event_date >= c.pre_start
            and e.event_date < c.index_date
    group by
        c.index_key, c.window_months, c.control_key, c.hash_rank, c.n_candidates, c.pre_start, c.index_date,
        c.gp_appointments_band, c.emergency_admissions_band, c.ae_attendances_band
{%- endmacro %}

{#- var match_candidate_pool as a positive integer (anything else falls back to the default 50). -#}
{% macro match_pool_size() -%}
    {%- set n = var('match_candidate_pool', 50) | int -%}
    {{ return(n if n > 0 else 50) }}
{%- endmacro %}

{#- var match_candidate_limit: ring positions searched at most per index patient (default 1000). -#}
{% macro match_search_limit() -%}
    {%- set n = var('match_candidate_limit', 1000) | int -%}
    {{ return([n if n > 0 else 1000, match_pool_size()] | max) }}
{%- endmacro %}

{#- Smallest pre-window count a band allows (methods §4 bands). -#}
{% macro gp_band_floor(band) -%}
    case {{ band }} when '0' then 0 when '1-2' then 1 when '3-5' then 3 when '6-11' then 6 else 12 end
{%- endmacro %}

{% macro small_band_floor(band) -%}
    case {{ band }} when '0' then 0 when '1' then 1 else 2 end
{%- endmacro %}

{#- Cheap necessary condition for ring member r to match index row i's bands: r's counts over the
    calendar years that can hold any pre-window of the year (an upper bound of its pre-window count)
    reach the band's floor. Only impossible candidates are dropped; the exact check follows. -#}
{% macro could_match_bands(r, i) -%}
    {{ r }}.max_pre_gp_appointments >= {{ gp_band_floor(i ~ '.gp_appointments_band') }}
    and {{ r }}.max_pre_emergency_admissions >= {{ small_band_floor(i ~ '.emergency_admissions_band') }}
    and {{ r }}.max_pre_ae_attendances >= {{ small_band_floor(i ~ '.ae_attendances_band') }}
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

{#- 'a', 'b', 'c' for an in (...) list. -#}
{% macro sql_string_list(values) -%}
    {%- for v in values %}'{{ v }}'{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}
