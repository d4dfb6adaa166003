{#- Incremental rebuilds keyed on what the loader did since a model's last build.

    raw is only ever appended to or replaced record by record by the loader, and every replaced
    version is kept in audit.replaced_records (with the time it was replaced). So rows loaded after a
    model's last build, plus the replaced records of that time, name every patient whose inputs
    changed. Each row of an incremental model carries the state of raw it was built from:
    loaded_through (the latest loaded_at / replaced_at seen) and raw_rows (rows in its sources). If raw
    lost rows any other way (a truncate, a hand-made delete), the counts no longer add up and the
    model forgets everything and rebuilds in full (forget_if_raw_lost_rows). Changed definitions
    (measures, code lists) still need `dbt build --full-refresh` (spw run --full-refresh). -#}

{#- `inputs`: the model's raw inputs, [{'relation': staging view over raw.<source>, 'source': <source>}].
    The state of raw now: one row (loaded_through, raw_rows) over those relations and the
    audit.replaced_records rows of their sources. -#}
{% macro raw_state(inputs) -%}
    select
        max(loaded_through) as loaded_through,
        sum(n_rows) as raw_rows
    from (
        {%- for s in inputs | map(attribute='relation') %}
        select
            max(loaded_at) as loaded_through,
            count(*) as n_rows
        from {{ s }}
        union all
        {%- endfor %}
        select
            max(replaced_at) as loaded_through,
            0 as n_rows
        from {{ source('audit', 'replaced_records') }}
        where source in ('{{ inputs | map(attribute='source') | join("', '") }}')
    ) as s
{%- endmacro %}

{#- The state of raw when `relation` was last built (no row when it is empty). -#}
{% macro previous_raw_state(relation) -%}
    select
        loaded_through,
        raw_rows
    from {{ relation }}
    order by loaded_through desc
    limit 1
{%- endmacro %}

{#- Patients with a row loaded or replaced after the last build (every patient when there was none). -#}
{% macro changed_patients(relation, inputs) -%}
    {%- set since = "coalesce((select loaded_through from (" ~ previous_raw_state(relation)
        ~ ") as p), cast('-infinity' as timestamp with time zone))" -%}
    {%- for s in inputs | map(attribute='relation') %}
    select patient_key from {{ s }}
    where loaded_at > {{ since }}
    union
    {%- endfor %}
    select patient_key from {{ source('audit', 'replaced_records') }}
    where
        source in ('{{ inputs | map(attribute='source') | join("', '") }}')
        and replaced_at > {{ since }}
{%- endmacro %}

{#- Pre-hook: empty `relation` when raw's rows no longer add up to what it was built from plus what
    the loader did since (rows loaded after it, less the rows loaded before it that were replaced). -#}
{% macro forget_if_raw_lost_rows(relation, inputs) -%}
    {%- if is_incremental() -%}
    delete from {{ relation }}
    where exists (
        select 1
        from ({{ previous_raw_state(relation) }}) as p
        where
            p.raw_rows
            {%- for s in inputs | map(attribute='relation') %}
            + (select count(*) from {{ s }} where loaded_at > p.loaded_through)
            {%- endfor %}
            - (
                select count(*) from {{ source('audit', 'replaced_records') }}
                where
                    source in ('{{ inputs | map(attribute='source') | join("', '") }}')
                    and replaced_at > p.loaded_through
                    and loaded_at <= p.loaded_through
            )
            != (select raw_rows from ({{ raw_state(inputs) }}) as n)
    )
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: rows of patients whose records were all replaced away to another patient (they are
    not rebuilt, having no rows left). -#}
{% macro forget_moved_patients(relation, inputs) -%}
    {%- if is_incremental() -%}
    delete from {{ relation }} as t
    using {{ source('audit', 'replaced_records') }} as r
    where
        r.patient_key = t.patient_key
        and r.source in ('{{ inputs | map(attribute='source') | join("', '") }}')
        and r.replaced_at > t.loaded_through
    {%- endif -%}
{%- endmacro %}

{#- The raw inputs of int_patient_timelines (and so of everything that counts events). -#}
{% macro event_inputs() -%}
    {{ return([
        {'relation': ref('stg_gp__appointments'), 'source': 'gp_appointments'},
        {'relation': ref('stg_ecds__attendances'), 'source': 'ae_attendances'},
        {'relation': ref('stg_apc__admissions'), 'source': 'inpatient_admissions'},
    ]) }}
{%- endmacro %}
