-- The staging views' identifiers of the largest sources are not tested for uniqueness by scanning
-- them: raw enforces each source's record key with a unique index (spw.ingest.schema). This fails for
-- every raw table whose record key index is missing, not unique or not valid (Postgres catalog).
with contract_sources as (
    {%- for s in contract_sources() %}
        select '{{ s.source }}' as source
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
)

select s.source
from contract_sources as s
left join pg_catalog.pg_class as t
    on
        s.source = t.relname
        and t.relnamespace = 'raw'::regnamespace
left join pg_catalog.pg_index as i
    on
        t.oid = i.indrelid
        and i.indexrelid = to_regclass('raw.' || s.source || '_record_key')
where i.indexrelid is null or not i.indisunique or not i.indisvalid
