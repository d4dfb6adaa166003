-- The state of raw at the start of this build, one row per source: the latest time the loader wrote
-- to it (a load, or a replacement), its drift (statements that wrote to raw outside the loader,
-- counted by a trigger: audit.raw_writes) and, for the event sources, the latest activity date (for
-- the data cut-off). Incremental models keep the state they were built from (macros/incremental.sql):
-- what was loaded after it is what they must recompute, and a drift that moved means raw changed in a
-- way the ledger cannot describe, so they rebuild in full.
-- Every figure is an index look-up except the latest activity date. That one is carried on from the
-- previous build when nothing could have lowered it (no drift, no replaced record dated on or after
-- it): then it is the later of the previous one and the latest date of the rows loaded since, a
-- month's rows through raw's loaded_at index. Otherwise the source is read in full.
-- A state table of eight rows: a warehouse built before one of its columns changed takes the new shape.
-- depends_on: {{ source('audit', 'raw_writes') }}, {{ source('audit', 'replaced_records') }}
{{ config(
    materialized='incremental',
    unique_key='source',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
) }}
{#- Raw itself, not the staging views: max(loaded_at) is then one step down raw's loaded_at index
    (through a view Postgres reads the whole index). Raw's date columns are typed by the loader. #}
{%- set sources = [
    ('practices', 'ods', none),
    ('link_worker_workforce', 'workforce', none),
    ('patients', 'gp', none),
    ('sp_referrals', 'case_management', none),
    ('sp_wellbeing', 'case_management', none),
    ('gp_appointments', 'gp', 'appointment_date'),
    ('ae_attendances', 'ecds', 'arrival_date'),
    ('inpatient_admissions', 'apc', 'admission_date'),
] %}
{%- set carried = activity_dates_to_carry_on(sources) %}

with held as (
    {%- for name, system, date_col in sources %}
        select
            '{{ name }}' as source,
            (select max(loaded_at) from {{ source(system, name) }}) as last_loaded_at,
            (
                select max(replaced_at) from {{ source('audit', 'replaced_records') }}
                where source = '{{ name }}'
            ) as last_replaced_at,
            {%- if not date_col %}
                cast(null as date) as last_activity_date
            {%- elif name in carried %}
                {#- carried[name]: (loaded_through, last_activity_date) of the previous build #}
                greatest(
                    cast('{{ carried[name][1] }}' as date),
                    (
                        select max({{ date_col }}) from {{ source(system, name) }}
                        where loaded_at > cast('{{ carried[name][0] }}' as timestamp with time zone)
                    )
                ) as last_activity_date
            {%- else %}
                (select max({{ date_col }}) from {{ source(system, name) }}) as last_activity_date
            {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select
    h.source,
    case
        when h.last_replaced_at > h.last_loaded_at or h.last_loaded_at is null then h.last_replaced_at
        else h.last_loaded_at
    end as loaded_through,
    cast(coalesce(w.statements, 0) as {{ dbt.type_bigint() }}) as raw_drift,
    h.last_activity_date
from held as h
left join {{ source('audit', 'raw_writes') }} as w on h.source = w.source
