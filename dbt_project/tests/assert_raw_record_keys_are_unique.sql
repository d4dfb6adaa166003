-- The staging views' identifiers of the largest sources are not tested for uniqueness by scanning
-- them: raw enforces each source's record key with a unique index (spw.ingest.schema). This fails for
-- every raw table whose record key index is missing, not unique or not valid.
{{ raw_record_key_index_faults() }}
