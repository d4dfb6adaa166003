-- The state of raw at the start of this build, one row per source: the rows it holds, the latest time
-- the loader wrote to it (a load, or a replacement), and its drift from the ledger (rows now held less
-- the rows the ledger says were loaded and not replaced since). Incremental models keep the state they
-- were built from (macros/incremental.sql): what was loaded after it is what they must recompute, and a
-- drift that moved means raw lost or gained rows outside the loader, so they rebuild in full.
-- The same pass gives the latest activity date of the event sources, for the data cut-off.
{%- set sources = [
    ('practices', 'stg_ods__practices', none),
    ('link_worker_workforce', 'stg_workforce__link_worker_workforce', none),
    ('patients', 'stg_gp__patients', none),
    ('sp_referrals', 'stg_case_management__referrals', none),
    ('sp_wellbeing', 'stg_case_management__wellbeing', none),
    ('gp_appointments', 'stg_gp__appointments', 'appointment_date'),
    ('ae_attendances', 'stg_ecds__attendances', 'arrival_date'),
    ('inpatient_admissions', 'stg_apc__admissions', 'admission_date'),
] %}

with held as (
    {%- for name, model, date_col in sources %}
        select
            '{{ name }}' as source,
            count(*) as raw_rows,
            max(loaded_at) as last_loaded_at,
            {%- if date_col %}
                max({{ date_col }}) as last_activity_date
            {%- else %}
                cast(null as date) as last_activity_date
            {%- endif %}
        from {{ ref(model) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

ledger as (
    select
        source,
        sum(rows_loaded) as rows_loaded
    from {{ source('audit', 'file_loads') }}
    where status = 'loaded'
    group by source
),

replaced as (
    select
        source,
        count(*) as rows_replaced,
        max(replaced_at) as last_replaced_at
    from {{ source('audit', 'replaced_records') }}
    group by source
)

select
    h.source,
    cast(h.raw_rows as {{ dbt.type_bigint() }}) as raw_rows,
    case
        when r.last_replaced_at > h.last_loaded_at or h.last_loaded_at is null then r.last_replaced_at
        else h.last_loaded_at
    end as loaded_through,
    cast(h.raw_rows - coalesce(l.rows_loaded, 0) + coalesce(r.rows_replaced, 0) as {{ dbt.type_bigint() }})
        as raw_drift,
    h.last_activity_date
from held as h
left join ledger as l on h.source = l.source
left join replaced as r on h.source = r.source
