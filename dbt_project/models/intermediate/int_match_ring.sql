-- Hash rings for matching (methods §4). For each calendar year with index referrals, every patient
-- who could be a control for an index date in that year sits on the ring of their exact-match
-- demographic stratum: sub-ICB of a practice row valid during the year, sex, IMD quintile and the
-- 10-year age band in that year, ordered by md5(patient_key). A control's distance from an index
-- patient is how many places after the index patient's own position it sits (circularly), so the
-- nearest candidates are found by position (an equi-join) instead of hashing every pair.
-- max_pre_* are each member's counts over the calendar years that can hold a pre-window of an index
-- date in that year: an upper bound used to skip candidates that cannot reach an index band.
{%- set lookback_years = ((cohort_window_months() | max) + 11) // 12 %}

with index_years as (
    select distinct index_year from {{ ref('int_match_index') }}
),

population as (
    select * from {{ ref('int_match_population') }}
),

geography as (
    select * from {{ ref('int_practice_geography') }}
),

members as (
    -- Prefilters only drop people who cannot be eligible for any index date in the year.
    select distinct
        g.sub_icb_code,
        p.sex,
        p.imd_quintile,
        y.index_year,
        {{ age_band_10('y.index_year - p.year_of_birth') }} as age_band,
        p.patient_key
    from population as p
    cross join index_years as y
    inner join geography as g
        on
            p.practice_code = g.practice_code
            and g.valid_from <= {{ year_end('y.index_year') }}
            and g.valid_to > {{ year_start('y.index_year') }}
    where
        p.registration_start_date <= {{ year_end('y.index_year') }}
        and (p.registration_end_date is null or p.registration_end_date >= {{ year_start('y.index_year') }})
        and (p.date_of_death is null or p.date_of_death > {{ year_start('y.index_year') }})
),

year_counts as (
    select
        patient_key,
        cast(extract(year from event_date) as integer) as event_year,
    {%- for m in matching_measures() %}
        sum(case when measure = '{{ m }}' then event_value else 0 end) as n_{{ m }}
        {{- ',' if not loop.last }}
    {%- endfor %}
    from {{ ref('int_patient_events') }}
    where measure in ({{ sql_string_list(matching_measures()) }})
    group by patient_key, cast(extract(year from event_date) as integer)
),

bounded as (
    select
        m.sub_icb_code,
        m.sex,
        m.imd_quintile,
        m.index_year,
        m.age_band,
        m.patient_key,
    {%- for m in matching_measures() %}
        coalesce(sum(c.n_{{ m }}), 0) as max_pre_{{ m }}{{ ',' if not loop.last }}
    {%- endfor %}
    from members as m
    left join year_counts as c
        on
            m.patient_key = c.patient_key
            and c.event_year between m.index_year - {{ lookback_years }} and m.index_year
    group by m.sub_icb_code, m.sex, m.imd_quintile, m.index_year, m.age_band, m.patient_key
)

select
    sub_icb_code,
    sex,
    imd_quintile,
    index_year,
    age_band,
    patient_key,
    max_pre_gp_appointments,
    max_pre_emergency_admissions,
    max_pre_ae_attendances,
    {{ dbt.hash('patient_key') }} as ring_hash,
    row_number() over (
        partition by sub_icb_code, sex, imd_quintile, index_year, age_band
        order by {{ dbt.hash('patient_key') }}, patient_key
    ) as ring_rank,
    count(*) over (partition by sub_icb_code, sex, imd_quintile, index_year, age_band) as ring_size
from bounded
