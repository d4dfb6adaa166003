-- The data cut-off of methods §1 as a one-row table, so every model uses the same date:
-- var data_cutoff_date when set, otherwise the earliest of the latest appointment, arrival and
-- admission dates loaded (min() skips a source with no rows, as the method says).
{%- set configured = var('data_cutoff_date', none) %}
{%- if configured %}

    select cast('{{ configured }}' as date) as cutoff_date
{%- else %}

    with latest_event_dates as (
        {%- for s in event_sources() %}
            select max({{ s.date }}) as latest_date from {{ ref(s.staging) }}
            {%- if not loop.last %}
                union all
            {%- endif %}
        {%- endfor %}
    )

    select min(latest_date) as cutoff_date
    from latest_event_dates
{%- endif %}
