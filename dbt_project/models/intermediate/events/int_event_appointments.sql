-- GP appointments as the event models read them (methods §2): rows with a patient. A view, so each
-- event model reads the source once in its own single pass.
{{ config(materialized='view') }}

select * from {{ ref('stg_gp__appointments') }}
where patient_key is not null
