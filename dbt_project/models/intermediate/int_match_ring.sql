-- Hash rings for matching (methods §4). For each calendar year with index referrals, every patient who
-- could be a control for an index date in that year sits on the ring of their exact-match demographic
-- stratum: sub-ICB of a practice row valid during the year, sex, IMD quintile and the 10-year age band
-- in that year, ordered by md5(patient_key). A control's distance from an index patient is how many
-- places after the index patient's own position it sits (circularly), so the nearest candidates are
-- found by position (an equi-join) instead of hashing every pair.
-- Each member carries what the pair rules need (registration, death, first referral, the validity of
-- its practice row) and its timelines of the three banded measures, so a candidate is checked in place,
-- and the band ranks of its counts over every day a pre-window of an index date in the year can
-- cover, [1 January - longest W months, 31 December): upper bounds that let the second matching
-- stage skip members who cannot reach an index patient's bands.
-- First referrals are not carried: a new referral would touch every year's ring; the matching stages
-- look them up per pair instead.
-- Incremental by index year (macros/incremental.sql): a year's ring is valid for index dates up to
-- built_through (the data cut-off it was built at), since the rules only read what happened up to
-- t + W months of registration and death and before t of activity. A build after the first rebuilds the
-- years with an index date past their built_through, new years, years with activity loaded or replaced
-- since and dated in their span up to built_through (late or corrected records), and every year when
-- the patients or practices changed.
-- depends_on: {{ source('audit', 'replaced_records') }}, {{ ref('int_raw_state') }}
{{ config(
    materialized='incremental',
    unique_key='index_year',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['loaded_through']}, {'columns': ['index_year', 'built_through']}],
    pre_hook=["{{ avoid_nested_loops() }}", "{{ forget_if_raw_drifted(this, ring_inputs()) }}"],
    post_hook=["{{ forget_years_without_index_rows(this) }}", "{{ ensure_ring_indexes(this) }}"],
) }}
{%- set longest_window = cohort_window_months() | max %}
with index_years as (
    select
        index_year,
        max(index_date) as last_index_date
    from {{ ref('int_match_index') }}
    group by index_year
),

{%- if is_incremental() %}

    built as (
    -- one index look-up per year ((index_year, built_through) is indexed), not a pass over the ring
        select
            y.index_year,
            (
                select max(r.built_through) from {{ this }} as r
                where r.index_year = y.index_year
            ) as built_through
        from index_years as y
    ),

    changed_activity as (
        -- dates of activity loaded or replaced since the last build (old and new versions)
        {{ changed_event_dates(this, ring_inputs()) }}
    ),

    years as (
        select y.index_year
        from index_years as y
        left join built as b on y.index_year = b.index_year
        where
            b.built_through is null
            or y.last_index_date > b.built_through
            or exists (
                select 1 from {{ ref('int_raw_state') }} as s
                where
                    s.source in ('patients', 'practices')
                    and s.loaded_through > {{ loaded_since(this, ring_inputs()) }}
            )
            or exists (
                select 1 from changed_activity as a
                where
                    a.event_date <= b.built_through
                    and a.event_date >= {{ add_months(year_start('y.index_year'), -1 * longest_window) }}
            )
    ),
{%- else %}

    years as (
        select index_year from index_years
    ),
{%- endif %}

population as (
    -- read only when some year is rebuilt (a one-time filter: a refresh that rebuilds none reads
    -- nothing of the register)
    select p.* from {{ ref('int_match_population') }} as p
    where exists (select 1 from years)
),

geography as (
    select * from {{ ref('int_practice_geography') }}
),

timelines as (
    select
        patient_key,
        gp_appointments_dates,
        emergency_admissions_dates,
        ae_attendances_dates
    from {{ ref('int_patient_timelines') }}
),

practice_year_rows as (
    -- every practice row valid at some time in each index year (a small table: practices x years)
    select
        g.practice_code,
        y.index_year,
        g.sub_icb_code,
        g.valid_from,
        g.valid_to,
        count(*) over (partition by g.practice_code, y.index_year) as n_practice_rows
    from geography as g
    cross join years as y
    where
        g.valid_from <= {{ year_end('y.index_year') }}
        and g.valid_to > {{ year_start('y.index_year') }}
),

practice_years as (
    -- With one practice row in the year its interval decides day t; when the practice was re-mapped
    -- during the year, pairs are checked against the row valid on day t (ring_pairs_on_day_t).
    select
        practice_code,
        index_year,
        sub_icb_code,
        n_practice_rows > 1 as has_practice_change,
        min(valid_from) as practice_valid_from,
        max(valid_to) as practice_valid_to
    from practice_year_rows
    group by practice_code, index_year, sub_icb_code, n_practice_rows
),

stratified as (
    -- Prefilters only drop people who cannot be eligible for any index date in the year.
    select
        y.sub_icb_code,
        p.sex,
        p.imd_quintile,
        y.index_year,
        {{ age_band_10('y.index_year - p.year_of_birth') }} as age_band,
        p.patient_key,
        {{ dbt.hash('p.patient_key') }} as key_hash,
        p.practice_code,
        p.registration_start_date,
        p.registration_end_date,
        p.date_of_death,
        y.has_practice_change,
        y.practice_valid_from,
        y.practice_valid_to
    from population as p
    inner join practice_years as y on p.practice_code = y.practice_code
    where
        p.registration_start_date <= {{ year_end('y.index_year') }}
        and (p.registration_end_date is null or p.registration_end_date >= {{ year_start('y.index_year') }})
        and (p.date_of_death is null or p.date_of_death > {{ year_start('y.index_year') }})
),

ranked as (
    -- ranks on narrow rows; the timelines are joined afterwards
    select
        s.*,
        row_number() over (
            partition by s.sub_icb_code, s.sex, s.imd_quintile, s.index_year, s.age_band
            order by s.key_hash, s.patient_key
        ) as ring_rank,
        count(*) over (
            partition by s.sub_icb_code, s.sex, s.imd_quintile, s.index_year, s.age_band
        ) as ring_size
    from stratified as s
)

select
    r.sub_icb_code,
    r.sex,
    r.imd_quintile,
    r.index_year,
    r.age_band,
    r.patient_key,
    r.practice_code,
    r.registration_start_date,
    r.registration_end_date,
    r.date_of_death,
    r.has_practice_change,
    r.practice_valid_from,
    r.practice_valid_to,
    r.ring_rank,
    r.ring_size,
    t.gp_appointments_dates as gp_appointment_dates,
    t.emergency_admissions_dates as emergency_admission_dates,
    t.ae_attendances_dates as ae_attendance_dates,
    {{ gp_appointments_band_rank(bound_count('t.gp_appointments_dates', 'r.index_year', longest_window)) }}
        as ub_gp_appointments_rank,
    {{ zero_one_two_band_rank(bound_count('t.emergency_admissions_dates', 'r.index_year', longest_window)) }}
        as ub_emergency_admissions_rank,
    {{ zero_one_two_band_rank(bound_count('t.ae_attendances_dates', 'r.index_year', longest_window)) }}
        as ub_ae_attendances_rank,
    c.cutoff_date as built_through,
    {{ run_marker() }} as built_at,
    s.loaded_through,
    s.raw_drift
from ranked as r
left join timelines as t on r.patient_key = t.patient_key
cross join {{ ref('int_data_cutoff') }} as c
cross join ({{ input_state(ring_inputs()) }}) as s
