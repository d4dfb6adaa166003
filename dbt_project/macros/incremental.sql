{#- Incremental rebuilds keyed on what the loader did since a model's last build.

    raw is only ever appended to, or replaced record by record, by the loader, and every replaced
    version is kept in audit.replaced_records with the time it was replaced. So the rows loaded after
    a model's last build, and the records replaced since, name everything whose inputs changed. Each
    row of an incremental model carries the state of raw it was built from (int_raw_state over the
    model's inputs): loaded_through, the latest load or replacement seen, and raw_drift, the inputs'
    drift from the ledger. When the drift has moved (raw emptied or edited outside the loader), the
    pre-hook forget_if_raw_drifted empties the model and it rebuilds in full. Changed definitions
    (measures, code lists, variables) still need `dbt build --full-refresh`.

    `inputs`: the model's raw inputs, [{'source': name, 'relation': its staging view over raw.<source>}]
    ('relation' only where a macro reads the rows: changed_patients). -#}

{%- macro source_list(inputs) -%}
    '{{ inputs | map(attribute='source') | join("', '") }}'
{%- endmacro %}

{#- The state of the inputs now: one row (loaded_through, raw_drift). -#}
{% macro input_state(inputs) -%}
    select
        max(loaded_through) as loaded_through,
        sum(raw_drift) as raw_drift
    from {{ ref('int_raw_state') }}
    where source in ({{ source_list(inputs) }})
{%- endmacro %}

{#- The state of the inputs when `relation` was last built (no row when it is empty). -#}
{% macro previous_state(relation) -%}
    select
        loaded_through,
        raw_drift
    from {{ relation }}
    order by loaded_through desc
    limit 1
{%- endmacro %}

{#- Time after which rows count as new for `relation`: the loaded_through of its last build, or
    -infinity when it is empty or its inputs' drift moved (the pre-hook forget_if_raw_drifted then
    empties it). Read when the model runs (its upstream models are built by then) and written into the
    SQL as a literal, so the planner sees how few rows are new (an index range on raw's loaded_at). -#}
{% macro loaded_since(relation, inputs) -%}
    {%- if execute and is_incremental() and model.resource_type == 'model' -%}
        {#- the top of the loaded_through index (not "nulls last", which would sort the table) #}
        {%- set prev = run_query("select loaded_through, raw_drift from " ~ relation
            ~ " where loaded_through is not null order by loaded_through desc limit 1") -%}
        {%- set now = run_query("select sum(raw_drift) from " ~ ref('int_raw_state')
            ~ " where source in (" ~ source_list(inputs) ~ ")") -%}
        {%- if prev.rows | length == 0 or prev.rows[0][0] is none or prev.rows[0][1] != now.rows[0][0] -%}
            cast('-infinity' as timestamp with time zone)
        {%- else -%}
            cast('{{ prev.rows[0][0] }}' as timestamp with time zone)
        {%- endif -%}
    {%- else -%}
    coalesce((select max(p.loaded_through) from {{ relation }} as p), cast('-infinity' as timestamp with time zone))
    {%- endif -%}
{%- endmacro %}

{#- Patients with a row loaded or replaced after `relation` was last built. -#}
{% macro changed_patients(relation, inputs) -%}
    {%- for s in inputs %}
    select patient_key from {{ s.relation }}
    where loaded_at > {{ loaded_since(relation, inputs) }}
    union
    {%- endfor %}
    select patient_key from {{ source('audit', 'replaced_records') }}
    where
        source in ({{ source_list(inputs) }})
        and replaced_at > {{ loaded_since(relation, inputs) }}
{%- endmacro %}

{#- Pre-hook: empty `relation` when its inputs' drift from the ledger is not what it was built from. -#}
{% macro forget_if_raw_drifted(relation, inputs) -%}
    {%- if is_incremental() -%}
    delete from {{ relation }}
    where exists (
        select 1
        from ({{ previous_state(relation) }}) as p
        where p.raw_drift != (select n.raw_drift from ({{ input_state(inputs) }}) as n)
    )
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: rows a record replaced since they were built still carry an older state; those that
    were not rebuilt (nothing left to build them from: the patient's or the file's records were all
    replaced away) go. `match`: how a replaced record (r) belongs to a row (t), e.g.
    'r.patient_key = t.patient_key'. -#}
{% macro forget_replaced(relation, inputs, match) -%}
    {%- if is_incremental() -%}
    delete from {{ relation }} as t
    using {{ source('audit', 'replaced_records') }} as r
    where
        {{ match }}
        and r.source in ({{ source_list(inputs) }})
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

{#- Every contract source (the data-quality checks read them all). -#}
{% macro all_inputs() -%}
    {{ return([
        {'relation': ref('stg_ods__practices'), 'source': 'practices'},
        {'relation': ref('stg_workforce__link_worker_workforce'), 'source': 'link_worker_workforce'},
        {'relation': ref('stg_gp__patients'), 'source': 'patients'},
        {'relation': ref('stg_case_management__referrals'), 'source': 'sp_referrals'},
        {'relation': ref('stg_case_management__wellbeing'), 'source': 'sp_wellbeing'},
    ] + event_inputs()) }}
{%- endmacro %}

{#- The raw inputs of the matching ring: activity, the register and the practices. -#}
{% macro ring_inputs() -%}
    {{ return(event_inputs() + register_inputs()) }}
{%- endmacro %}

{#- Dates of activity loaded or replaced after `relation` was last built, old versions and new
    (column event_date; one row per date). -#}
{% macro changed_event_dates(relation, inputs) -%}
    select distinct a.event_date
    from ({{ changed_activity(relation, inputs, open_spells=false) }}) as a
{%- endmacro %}

{#- Post-hook of int_match_ring: years no index row needs any more go. The ring's years are found by
    walking its (index_year, built_through) index, not by reading millions of rows. -#}
{% macro forget_years_without_index_rows(relation) -%}
    {%- if is_incremental() -%}
    delete from {{ relation }}
    where index_year in (
        with recursive ring_years (index_year) as (
            select min(r.index_year) from {{ relation }} as r
            union all
            select (select min(r.index_year) from {{ relation }} as r where r.index_year > y.index_year)
            from ring_years as y
            where y.index_year is not null
        )
        select y.index_year from ring_years as y
        where
            y.index_year is not null
            and y.index_year not in (select i.index_year from {{ ref('int_match_index') }} as i)
    )
    {%- endif -%}
{%- endmacro %}

{#- This dbt invocation's start, as a timestamp: marks what a build recomputed. -#}
{% macro run_marker() -%}
    cast('{{ run_started_at }}' as timestamp with time zone)
{%- endmacro %}

{#- The raw inputs int_match_todo reads directly (the rest reach it through the ring). -#}
{% macro referral_inputs() -%}
    {{ return([{'relation': ref('stg_case_management__referrals'), 'source': 'sp_referrals'}]) }}
{%- endmacro %}

{#- Matching stages (int_match_pool, int_match_extended, int_matched_controls, int_did_patient) keep a
    row set per index row (index_key, window_months) and carry todo_through, the latest todo_at of
    int_match_todo when they were built. A build after the first recomputes the index rows whose todo_at
    is later: -#}
{% macro todo_since(relation) -%}
    coalesce(
        (select max(x.todo_through) from {{ relation }} as x),
        cast('-infinity' as timestamp with time zone)
    )
{%- endmacro %}

{#- The CTE `todo`: index rows (index_key, window_months) this build must (re)compute for `relation`. -#}
{% macro todo_rows(relation) -%}
todo as (
    select
        index_key,
        window_months
    from {{ ref('int_match_todo') }}
    {%- if is_incremental() %}
    where todo_at > {{ todo_since(relation) }}
    {%- endif %}
)
{%- endmacro %}

{#- The latest todo_at now (the state column todo_through of the matching stages). -#}
{% macro todo_through() -%}
    (select max(todo_at) from {{ ref('int_match_todo') }})
{%- endmacro %}

{#- Post-hook of the matching stages: rows of index rows that are gone, or that were invalidated after
    the row was built and not rebuilt (no rows this time), go. -#}
{% macro forget_stale_index_rows(relation, key='index_key') -%}
    {%- if is_incremental() -%}
    delete from {{ relation }} as t
    where not exists (
        select 1
        from {{ ref('int_match_todo') }} as d
        where
            d.index_key = t.{{ key }}
            and d.window_months = t.window_months
            and d.todo_at <= t.todo_through
    )
    {%- endif -%}
{%- endmacro %}

{#- Hash parts of int_match_index columns, NULL-safe and separated. -#}
{% macro matching_key_parts(columns) -%}
    {%- set parts = [] -%}
    {%- for c in columns -%}
        {%- do parts.append("coalesce(cast(" ~ c ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ return(parts) }}
{%- endmacro %}

{#- Post-hook: rows of `relation` whose key (`columns`) is no longer in `parent` (int_match_todo: index
    rows that are gone; int_demand_cells: index months with no patient any more). -#}
{% macro forget_rows_missing_from(relation, parent, columns) -%}
    {%- if is_incremental() -%}
    delete from {{ relation }} as t
    where not exists (
        select 1 from {{ parent }} as p
        where {% for c in columns %}p.{{ c }} = t.{{ c }}{{ ' and ' if not loop.last }}{% endfor %}
    )
    {%- endif -%}
{%- endmacro %}

{#- Activity loaded or replaced after `relation` was last built (old versions and new), and (unless
    open_spells is false) every open emergency spell, whose bed days run to the cut-off:
    (patient_key, event_date) rows. -#}
{% macro changed_activity(relation, inputs, open_spells=true) -%}
    {{ new_activity(relation, inputs) }}
    {%- for s in event_inputs() %}
        {%- set date_col = event_date_column(s.source) %}
    union all
    select
        patient_key,
        cast({{ record_field('record', date_col) }} as date) as event_date
    from {{ source('audit', 'replaced_records') }}
    where source = '{{ s.source }}' and replaced_at > {{ loaded_since(relation, inputs) }}
    {%- endfor %}
    {%- if open_spells %}
    union all
    select
        patient_key,
        admission_date as event_date
    from {{ ref('stg_apc__admissions') }}
    where discharge_date is null
    {%- endif %}
{%- endmacro %}

{#- The int_patient_groups columns a cell depends on, as hash parts. -#}
{% macro group_fingerprint_parts() -%}
    {{ return(matching_key_parts(['patient_key', 'window_months', 'population', 'subgroup', 'region_code',
        'icb_code', 'sub_icb_code', 'pcn_code'])) }}
{%- endmacro %}


{#- The latest did_through int_demand_cells was built with, as a literal when the model runs. -#}
{% macro did_since(relation) -%}
    {%- if execute and is_incremental() and model.resource_type == 'model' -%}
        {%- set r = run_query("select max(did_through) from " ~ relation) -%}
        {%- if r.rows[0][0] is none -%}
            cast('-infinity' as timestamp with time zone)
        {%- else -%}
            cast('{{ r.rows[0][0] }}' as timestamp with time zone)
        {%- endif -%}
    {%- else -%}
        (select coalesce(max(x.did_through), cast('-infinity' as timestamp with time zone)) from {{ relation }} as x)
    {%- endif -%}
{%- endmacro %}

{#- The raw inputs of the registered population: the register and the practices (by name only: no
    model reads their rows for changes). -#}
{% macro register_inputs() -%}
    {{ return([{'source': 'patients'}, {'source': 'practices'}]) }}
{%- endmacro %}

{#- Post-hook of an all-or-nothing incremental model: after a recount, rows of older builds (years that
    are no longer cohort years) go; when nothing was recounted every row is of the same build. -#}
{% macro forget_older_builds(relation) -%}
    {%- if is_incremental() -%}
    delete from {{ relation }}
    where built_at < (select max(t.built_at) from {{ relation }} as t)
    {%- endif -%}
{%- endmacro %}

{#- Event rows loaded after `relation` was last built: (patient_key, event_date) of their new versions. -#}
{% macro new_activity(relation, inputs) -%}
    {%- for s in event_inputs() %}
        {%- set date_col = event_date_column(s.source) %}
    select
        patient_key,
        {{ date_col }} as event_date
    from {{ s.relation }}
    where loaded_at > {{ loaded_since(relation, inputs) }} and patient_key is not null
        {%- if not loop.last %}
    union all
        {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- What int_dq_record_checks recounts of one source, read when the model runs: all_files when a
    source it checks against (`depends`) was loaded or replaced since `since`; otherwise files, the
    files that lost records to a replacement since (besides the rows loaded since). At parse time
    (and in unit tests) it answers "every file". -#}
{% macro dq_recount_scope(source_name, depends, since) -%}
    {%- if not (execute and model.resource_type == 'model') -%}
        {{ return({'all_files': true, 'files': []}) }}
    {%- endif -%}
    {%- set changed = [] -%}
    {%- if depends -%}
        {%- set r = run_query("select count(*) from " ~ ref('int_raw_state') ~ " where source in ('"
            ~ (depends | join("', '")) ~ "') and loaded_through > " ~ since) -%}
        {%- do changed.append(r.rows[0][0] > 0) -%}
    {%- endif -%}
    {%- set files = run_query("select distinct file_sha256 from " ~ source('audit', 'replaced_records')
        ~ " where source = '" ~ source_name ~ "' and replaced_at > " ~ since ~ " order by 1") -%}
    {{ return({'all_files': changed | select | list | length > 0,
               'files': files.columns[0].values() | list}) }}
{%- endmacro %}

{#- The where clause of int_dq_record_checks' incremental build for check `c` (one source): rows
    loaded since, and the files that lost records since; nothing when every file is recounted (a
    source it checks against changed). Decided when the model runs, so that the usual case is a
    plain index range on raw's loaded_at. -#}
{% macro dq_recount_filter(c) -%}
    {%- set depends = (['practices'] if c.practice or c.pcn else [])
        + ({'patients': ['patients'], 'referrals': ['sp_referrals']}[c.link] if c.link else []) -%}
    {%- set since = loaded_since(this, all_inputs()) -%}
    {%- set scope = dq_recount_scope(c.source, depends, since) -%}
    {%- if not scope.all_files -%}
    where
        r.loaded_at > {{ since }}
        {%- if scope.files %}
        or r.file_sha256 in ('{{ scope.files | join("', '") }}')
        {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#- The date an event source's rows count on (the contract source's name). -#}
{% macro event_date_column(source_name) -%}
    {{ return(event_source_columns({'gp_appointments': 'appointments', 'ae_attendances': 'attendances',
        'inpatient_admissions': 'admissions'}[source_name]).date) }}
{%- endmacro %}

{#- int_raw_state: the event sources whose latest activity date can be carried on from its previous
    build, as {source: (loaded_through, last_activity_date)}, read when the model runs. Carried on
    only when the source's drift has not moved and no record replaced since was dated on or after
    that date (the only ways the latest date can go down). -#}
{% macro activity_dates_to_carry_on(sources) -%}
    {%- set carried = {} -%}
    {%- if execute and is_incremental() and model.resource_type == 'model' -%}
        {%- set rows = run_query(
            "select p.source, cast(p.loaded_through as text), cast(p.last_activity_date as text)"
            ~ " from " ~ this ~ " as p left join " ~ source('audit', 'raw_writes') ~ " as w on p.source = w.source"
            ~ " where p.raw_drift = coalesce(w.statements, 0) and p.loaded_through is not null"
            ~ " and p.last_activity_date is not null and not exists (select 1 from "
            ~ source('audit', 'replaced_records') ~ " as r where r.source = p.source"
            ~ " and r.replaced_at > p.loaded_through and (false"
            ~ activity_date_replaced_clauses(sources) ~ "))") -%}
        {%- for r in rows.rows %}{% do carried.update({r[0]: (r[1], r[2])}) %}{% endfor -%}
    {%- endif -%}
    {{ return(carried) }}
{%- endmacro %}

{#- OR-clauses of activity_dates_to_carry_on: a replaced record of an event source dated on or after
    the previous latest activity date. -#}
{% macro activity_date_replaced_clauses(sources) -%}
    {%- for name, system, date_col in sources if date_col -%}
        {{ " or (r.source = '" ~ name ~ "' and cast(" ~ record_field('r.record', date_col)
            ~ " as date) >= p.last_activity_date)" }}
    {%- endfor -%}
{%- endmacro %}

{#- Post-hook of int_match_ring: the indexes a refresh's first matching stage looks places up by (a
    member by patient and year, a place by stratum and rank). Created when missing, so a ring built
    before they existed gets them too (the `indexes` config only acts when the table is created). -#}
{% macro ensure_ring_indexes(relation) -%}
    {{ return(adapter.dispatch('ensure_ring_indexes', 'spw')(relation)) }}
{%- endmacro %}

{% macro default__ensure_ring_indexes(relation) -%}
    select 1
{%- endmacro %}

{% macro postgres__ensure_ring_indexes(relation) -%}
    create index if not exists {{ relation.identifier }}_member
    on {{ relation }} (patient_key, index_year);
    create index if not exists {{ relation.identifier }}_place
    on {{ relation }} (index_year, sub_icb_code, sex, imd_quintile, age_band, ring_rank)
{%- endmacro %}
