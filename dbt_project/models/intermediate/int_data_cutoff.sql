-- The data cut-off of methods §1 as a one-row table, so every model uses the same date.
-- depends_on: {{ ref('int_raw_state') }}
select {{ data_cutoff_date() }} as cutoff_date
