-- The sparse patient-month panel (methods §4b): one row per patient, measure and month with at least
-- one event (y_im > 0), for patients who can be in some cohort's panel, up to the data cut-off. Months
-- outside every window the patient can take part in are left out.
with cutoff as (
    select cutoff_date from {{ ref('int_data_cutoff') }}
),

events as (
    select * from {{ ref('int_patient_events') }}
),

patients as (
    select
        patient_key,
        g_lo,
        g_hi
    from {{ ref('int_sdid_patients') }}
),

monthly as (
    select
        e.measure,
        e.patient_key,
        {{ sdid_month('e.event_date') }} as month_index,
        sum(e.event_value) as y
    from events as e
    cross join cutoff as c
    where e.event_date <= c.cutoff_date
    group by e.measure, e.patient_key, {{ sdid_month('e.event_date') }}
)

select
    m.measure,
    m.patient_key,
    m.month_index,
    m.y
from monthly as m
inner join patients as p on m.patient_key = p.patient_key
where m.month_index between p.g_lo - {{ sdid_lead() }} and p.g_hi + 12
