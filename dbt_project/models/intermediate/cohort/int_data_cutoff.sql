-- The data cut-off of methods §1 as a one-row table, so every model uses the same date:
-- var data_cutoff_date when set, otherwise the earliest of the latest appointment, arrival and
-- admission dates loaded (least() skips a source with no rows, as the method says).
{%- set configured = var('data_cutoff_date', none) %}

select
    {%- if configured %}
        cast('{{ configured }}' as date) as cutoff_date
    {%- else %}
        least(
            {%- for s in event_sources() %}
                (select max({{ s.date }}) from {{ ref(s.staging) }}){{ ',' if not loop.last }}
            {%- endfor %}
        ) as cutoff_date
    {%- endif %}
