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

{#- Candidate controls (methods §4) for the index rows in relation/CTE `index_rows`: same sex, IMD
    quintile, 10-year age band at t and sub-ICB of practice at t; registered from t - W months to
    t + W months, alive after t + W months and never referred on or before t + W months. The join
    expands each index row into the years of birth of its age band so the join stays an equi-join. -#}
{% macro candidate_pairs(index_rows) -%}
    with offsets as (
        {%- for n in range(130) %}
        select {{ n }} as year_offset{{ ' union all' if not loop.last }}
        {%- endfor %}
    ),

    index_by_birth_year as (
        select
            i.*,
            i.index_year - 10 * i.age_band - o.year_offset as year_of_birth
        from {{ index_rows }} as i
        inner join offsets as o
            on o.year_offset < case when i.age_band = 8 then 130 else 10 end
    ),

    population_geography as (
        select
            p.*,
            g.sub_icb_code,
            g.valid_from,
            g.valid_to
        from {{ ref('int_match_population') }} as p
        inner join {{ ref('int_practice_geography') }} as g on p.practice_code = g.practice_code
    ),

    pairs as (
        select
            i.index_key,
            i.window_months,
            i.index_date,
            i.pre_start,
            i.post_end,
            i.gp_appointments_band,
            i.emergency_admissions_band,
            i.ae_attendances_band,
            c.patient_key as control_key,
            -- the practice row valid at t, latest effective_from if rows overlap
            row_number() over (
                partition by i.index_key, i.window_months, c.patient_key order by c.valid_from desc
            ) as geography_seq,
            c.sub_icb_code as control_sub_icb_code,
            i.sub_icb_code
        from index_by_birth_year as i
        inner join population_geography as c
            on
                i.sex = c.sex
                and i.imd_quintile = c.imd_quintile
                and i.year_of_birth = c.year_of_birth
                and i.index_date >= c.valid_from
                and i.index_date < c.valid_to
        where
            c.registration_start_date <= i.pre_start
            and (c.registration_end_date is null or c.registration_end_date >= i.post_end)
            and (c.date_of_death is null or c.date_of_death > i.post_end)
            and (c.first_referral_date is null or c.first_referral_date > i.post_end)
    )

    select
        index_key,
        window_months,
        index_date,
        pre_start,
        post_end,
        gp_appointments_band,
        emergency_admissions_band,
        ae_attendances_band,
        control_key,
        {{ pair_hash('index_key', 'control_key') }} as pair_hash
    from pairs
    where geography_seq = 1 and control_sub_icb_code = sub_icb_code
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

{#- Candidate pairs of `index_rows` ranked by pair hash within each index patient and window. -#}
{% macro ranked_candidate_pairs(index_rows) -%}
    select
        *,
        row_number() over (
            partition by index_key, window_months order by pair_hash, control_key
        ) as hash_rank,
        count(*) over (partition by index_key, window_months) as n_candidates
    from (
        {{ candidate_pairs(index_rows) }}
    ) as pairs
{%- endmacro %}
