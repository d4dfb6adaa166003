-- Reference and linkage checks on the records now in the warehouse (latest delivery wins), one row
-- per source and delivering file (sha256): codes absent from the ODS practices reference are not row
-- errors (data contract §4), they load and are counted here, as are person records that do not link.
-- One check shape for every source; `None` marks a check that does not apply (NULL in the output).
{{ config(pre_hook="{{ avoid_nested_loops() }}") }}
{%- set checks = [
    {'source': 'practices', 'model': 'stg_ods__practices'},
    {'source': 'link_worker_workforce', 'model': 'stg_workforce__link_worker_workforce', 'pcn': 'pcn_code'},
    {'source': 'patients', 'model': 'stg_gp__patients', 'practice': 'practice_code'},
    {'source': 'sp_referrals', 'model': 'stg_case_management__referrals', 'practice': 'referring_practice_code',
     'pcn': 'pcn_code', 'link': 'patients'},
    {'source': 'sp_wellbeing', 'model': 'stg_case_management__wellbeing', 'link': 'referrals'},
    {'source': 'gp_appointments', 'model': 'stg_gp__appointments', 'practice': 'practice_code', 'link': 'patients'},
    {'source': 'ae_attendances', 'model': 'stg_ecds__attendances', 'link': 'patients'},
    {'source': 'inpatient_admissions', 'model': 'stg_apc__admissions', 'link': 'patients'},
] %}
{#- how a record links: its patient is registered (patients), or its referral is known (sp_referrals) -#}
{%- set links = {
    'patients': {'model': 'stg_gp__patients', 'key': 'patient_key'},
    'referrals': {'model': 'stg_case_management__referrals', 'key': 'referral_id'},
} %}

with practice_codes as (
    select distinct practice_code from {{ ref('stg_ods__practices') }}
),

pcn_codes as (
    select distinct pcn_code from {{ ref('stg_ods__practices') }}
),

checks as (
    {%- for c in checks %}
        {%- set link = links[c.link] if c.link else none %}
        select
            '{{ c.source }}' as source,
            r.file_sha256,
            count(*) as current_rows,
            {%- if c.practice %}
                sum(case when r.{{ c.practice }} is not null and pr.practice_code is null then 1 else 0 end)
            {%- else %}
                cast(null as {{ dbt.type_bigint() }})
            {%- endif %} as unknown_practice_code_rows,
            {%- if c.pcn %}
                sum(case when r.{{ c.pcn }} is not null and pc.pcn_code is null then 1 else 0 end)
            {%- else %}
                cast(null as {{ dbt.type_bigint() }})
            {%- endif %} as unknown_pcn_code_rows,
            {%- if link %}
                count(*) as linkable_rows,
                sum(case when l.{{ link.key }} is null then 1 else 0 end) as unlinked_rows
            {%- else %}
                cast(null as {{ dbt.type_bigint() }}) as linkable_rows,
                cast(null as {{ dbt.type_bigint() }}) as unlinked_rows
            {%- endif %}
        from
            {{ ref(c.model) }} as r
            {%- if c.practice %}
            left join practice_codes as pr on r.{{ c.practice }} = pr.practice_code
            {%- endif %}
        {%- if c.pcn %}
            left join pcn_codes as pc on r.{{ c.pcn }} = pc.pcn_code
        {%- endif %}
        {%- if link %}
            -- the linked table's key is unique (its record key), so the join never multiplies rows
            left join {{ ref(link.model) }} as l on r.{{ link.key }} = l.{{ link.key }}
        {%- endif %}
        group by r.file_sha256
        {%- if not loop.last %}

            union all
        {% endif %}
    {%- endfor %}
)

select
    c.source,
    c.file_sha256,
    cast(c.current_rows as {{ dbt.type_bigint() }}) as current_rows,
    cast(c.unknown_practice_code_rows as {{ dbt.type_bigint() }}) as unknown_practice_code_rows,
    cast(c.unknown_pcn_code_rows as {{ dbt.type_bigint() }}) as unknown_pcn_code_rows,
    cast(c.linkable_rows as {{ dbt.type_bigint() }}) as linkable_rows,
    cast(c.unlinked_rows as {{ dbt.type_bigint() }}) as unlinked_rows
from checks as c
