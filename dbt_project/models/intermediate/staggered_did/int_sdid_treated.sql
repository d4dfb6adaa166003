-- One row per treated panel patient (methods §4b): a patient first referred in month g who is in the
-- panel of cohort g, with the stratum at g and the geography of the practice on the first day of g.
with patients as (
    select * from {{ ref('int_sdid_patients') }}
    where ref_month between g_lo and g_hi
),

referrals as (
    select
        patient_key,
        cast({{ dbt.date_trunc('month', 'index_date') }} as date) as g_date
    from {{ ref('int_index_referrals') }}
),

geography as (
    select * from {{ ref('int_practice_geography') }}
),

located as (
    select
        p.patient_key,
        p.class_seq,
        p.ref_month as g,
        r.g_date,
        p.practice_code,
        p.sex,
        p.year_of_birth,
        p.imd_quintile,
        p.is_engaged,
        g.pcn_code,
        g.sub_icb_code,
        g.icb_code,
        g.region_code,
        -- overlapping practice rows would be a data fault; the latest effective_from wins
        row_number() over (partition by p.patient_key order by g.valid_from desc) as geography_seq
    from patients as p
    inner join referrals as r on p.patient_key = r.patient_key
    left join geography as g
        on
            p.practice_code = g.practice_code
            and r.g_date >= g.valid_from
            and r.g_date < g.valid_to
)

select
    patient_key,
    class_seq,
    g,
    g_date,
    {{ financial_year('g_date') }} as cohort_fy,
    practice_code,
    pcn_code,
    sub_icb_code,
    icb_code,
    region_code,
    is_engaged,
    {{ sdid_stratum_columns('sub_icb_code', 'sex', 'g', 'year_of_birth', 'imd_quintile') }}
from located
where geography_seq = 1
