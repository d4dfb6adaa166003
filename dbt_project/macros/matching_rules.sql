{#- Methods §4, the matched comparison: every rule is written here once; the matching models
    (models/intermediate/matching/) only apply them. -#}

{#- k: up to this many controls per index patient (var controls_per_case). -#}
{% macro controls_per_case() -%}
    {{ return(var('controls_per_case', 3) | int) }}
{%- endmacro %}

{#- The three measures whose pre-window counts are matched on, in band form. -#}
{% macro matching_measures() -%}
    {{ return(['gp_appointments', 'emergency_admissions', 'ae_attendances']) }}
{%- endmacro %}

{#- Exact-match key: 10-year age band at t (80+ as one band: band 8). -#}
{% macro age_band_10(age_expr) -%}
    least(cast(floor(({{ age_expr }}) / 10.0) as integer), 8)
{%- endmacro %}

{#- Exact-match key: IMD quintile = ceil(imd_decile / 2), or 'unknown'. -#}
{% macro imd_quintile(decile_expr) -%}
    coalesce(cast(cast(ceil(({{ decile_expr }}) / 2.0) as integer) as {{ dbt.type_string() }}), 'unknown')
{%- endmacro %}

{#- Exact-match key: pre-window gp_appointments band {0, 1-2, 3-5, 6-11, 12+}. -#}
{% macro gp_appointments_band(n) -%}
    case
        when {{ n }} = 0 then '0'
        when {{ n }} <= 2 then '1-2'
        when {{ n }} <= 5 then '3-5'
        when {{ n }} <= 11 then '6-11'
        else '12+'
    end
{%- endmacro %}

{#- Exact-match key: pre-window emergency_admissions and ae_attendances bands {0, 1, 2+}. -#}
{% macro zero_one_two_band(n) -%}
    case when {{ n }} = 0 then '0' when {{ n }} = 1 then '1' else '2+' end
{%- endmacro %}

{#- The same bands as ranks (0 = lowest), so a band can be compared with an upper bound. -#}
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

{#- Exact match on the demographic keys (sex, age band, IMD quintile, sub-ICB) within an index year,
    between aliases a and b: the key of a hash ring. -#}
{% macro same_stratum(a, b) -%}
    {{ a }}.sub_icb_code = {{ b }}.sub_icb_code
    and {{ a }}.sex = {{ b }}.sex
    and {{ a }}.imd_quintile = {{ b }}.imd_quintile
    and {{ a }}.index_year = {{ b }}.index_year
    and {{ a }}.age_band = {{ b }}.age_band
{%- endmacro %}

{#- Candidate control c for index row i: eligible for window W as if indexed at t (registered from
    t - W months to t + W months, alive after t + W months) and not referred on or before t (v2: a
    later referral censors the control, int_did_control_spans, instead of excluding it). -#}
{% macro candidate_is_eligible(i, c) -%}
    {{ c }}.registration_start_date <= {{ i }}.pre_start
    and ({{ c }}.registration_end_date is null or {{ c }}.registration_end_date >= {{ i }}.post_end)
    and ({{ c }}.date_of_death is null or {{ c }}.date_of_death > {{ i }}.post_end)
    and ({{ c }}.first_referral_date is null or {{ c }}.first_referral_date > {{ i }}.index_date)
{%- endmacro %}

{#- Exact-match key: the candidate's practice (`practice_code`) is in the index patient's sub-ICB on
    day t: a join condition on `period`, a row of int_practice_periods. -#}
{% macro practice_in_sub_icb_on(period, practice_code, day, sub_icb) -%}
    {{ period }}.practice_code = {{ practice_code }}
    and {{ day }} >= {{ period }}.period_from
    and {{ day }} < {{ period }}.period_to
    and {{ period }}.sub_icb_code = {{ sub_icb }}
{%- endmacro %}

{#- Ring member r passes for index row i (r already in i's demographic stratum, its practice checked
    by practice_in_sub_icb_on): eligible, and the same three pre-window bands as i, counted on r's
    timelines. -#}
{% macro candidate_passes(i, r) -%}
    {{ candidate_is_eligible(i, r) }}
    and {{ gp_appointments_band(dates_between(r ~ '.gp_appointment_dates', i ~ '.pre_start', i ~ '.index_date')) }}
    = {{ i }}.gp_appointments_band
    and {{ zero_one_two_band(dates_between(r ~ '.emergency_admission_dates', i ~ '.pre_start', i ~ '.index_date')) }}
    = {{ i }}.emergency_admissions_band
    and {{ zero_one_two_band(dates_between(r ~ '.ae_attendance_dates', i ~ '.pre_start', i ~ '.index_date')) }}
    = {{ i }}.ae_attendances_band
{%- endmacro %}

{#- Controls are chosen by hash: each ring is ordered by md5(patient_key), and a candidate's hash
    distance from an index patient is how many places after it the candidate sits, circularly. The k
    nearest passing candidates are the controls. -#}
{% macro ring_order_hash(patient_key) -%}
    {{ dbt.hash(patient_key) }}
{%- endmacro %}

{#- var match_candidate_pool as a positive integer (speed only: the controls never depend on it). -#}
{% macro match_pool_size() -%}
    {%- set n = var('match_candidate_pool', 50) | int -%}
    {{ return(n if n > 0 else 50) }}
{%- endmacro %}
