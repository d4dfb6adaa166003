"""Idempotent DDL for raw.<source> and the audit ledger, derived from the contract."""

from __future__ import annotations

import psycopg
from psycopg import sql

from spw.ingest import contract as c

LOCK_ID = 0x5350_5753  # advisory lock: concurrent ensure_schema calls (parallel DAG tasks) queue here

FILE_LOADS_DDL = """
create table if not exists audit.file_loads (
    id bigint generated always as identity primary key,
    source text not null,
    file_name text not null,
    sha256 text not null,
    bytes bigint not null,
    rows_read bigint not null default 0,
    rows_loaded bigint not null default 0,
    rows_rejected bigint not null default 0,
    status text not null check (status in ('loaded', 'rejected', 'duplicate')),
    reason text,
    warnings text,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    run_id text
)
"""

REJECTED_ROWS_DDL = """
create table if not exists audit.rejected_rows (
    id bigint generated always as identity primary key,
    source text not null,
    file_name text not null,
    sha256 text not null,
    line_number bigint,
    column_name text,
    rule text not null,
    value text
)
"""

# Records a later delivery replaced (latest delivery wins, data contract §1), kept whole: nothing
# loaded is ever lost, and incremental models learn which patients and files a resubmission touched
# (replaced_at after their last build), including a record moved to another patient.
REPLACED_RECORDS_DDL = """
create table if not exists audit.replaced_records (
    id bigint generated always as identity primary key,
    source text not null,
    patient_key text,
    file_sha256 text not null,
    loaded_at timestamptz not null,
    record jsonb not null,
    replaced_by_sha256 text not null,
    replaced_at timestamptz not null default now()
)
"""

# Databases made before the warehouse rebuilt in full each run counted writes to raw outside the
# loader (a statement trigger on every raw table, its function and this table): dropped when found.
RETIRED_RAW_WRITES = (
    "drop function if exists audit.count_raw_write() cascade",
    "drop table if exists audit.raw_writes",
)

AUDIT_INDEXES = (
    "create index if not exists file_loads_sha256_idx on audit.file_loads (sha256, status)",
    "create index if not exists rejected_rows_file_idx on audit.rejected_rows (sha256, line_number)",
    # per source, the latest replacement is the top of its range; incremental models read a range
    "create index if not exists replaced_records_source_time_idx on audit.replaced_records (source, replaced_at)",
)


def raw_table(source: c.Source) -> sql.Composed:
    return sql.SQL("raw.{}").format(sql.Identifier(source.name))


def record_key_name(source: c.Source) -> sql.Identifier:
    return sql.Identifier(f"{source.name}_record_key")


def record_key_index(source: c.Source) -> sql.Composed:
    """The unique index that is raw.<source>'s record key. The loader drops and rebuilds it for a bulk
    load into an empty table, so both use this one definition.

    Text parts are indexed with text_pattern_ops: byte-wise comparison, which gives the same
    uniqueness (equality is byte equality under any deterministic collation) and is what the loader's
    `=` look-ups use, but sorts with memcmp instead of the locale's strcoll: rebuilding the key of
    500,000 GP appointments took 0.17 s instead of 0.26 s. Being an index, not a constraint, is what
    allows the operator class; nothing refers to the key by constraint (no ON CONFLICT, no foreign key).
    NULLS NOT DISTINCT: practices.effective_from is part of the key and may be empty.
    """
    types = dict(source.raw_columns)
    parts = [sql.SQL("{} text_pattern_ops").format(sql.Identifier(k)) if types[k] == "text" else sql.Identifier(k)
             for k in source.key]
    return sql.SQL("create unique index if not exists {} on {} ({}) nulls not distinct").format(
        record_key_name(source), raw_table(source), sql.SQL(", ").join(parts))


def loaded_at_name(source: c.Source) -> sql.Identifier:
    return sql.Identifier(f"{source.name}_loaded_at")


def loaded_at_index(source: c.Source) -> sql.Composed:
    """An index on raw.<source>.loaded_at: incremental dbt models read the rows loaded since their last
    build (a month's rows, not the table). Appends land on its last page (loads are in time order)."""
    return sql.SQL("create index if not exists {} on {} (loaded_at)").format(
        loaded_at_name(source), raw_table(source))


def raw_table_ddl(source: c.Source) -> sql.Composed:
    cols = [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in source.raw_columns]
    cols += [sql.SQL("file_name text not null"), sql.SQL("file_sha256 text not null"),
             sql.SQL("loaded_at timestamptz not null default now()")]
    return sql.SQL("create table if not exists {} ({})").format(raw_table(source), sql.SQL(", ").join(cols))


def _replace_key_constraints(conn: psycopg.Connection) -> None:
    """Databases made before the record key was an index have it as a unique constraint of the same
    name: drop it, so that the index (built by ensure_schema next) takes its place."""
    old = conn.execute(
        "select c.relname, k.conname from pg_constraint k join pg_class c on c.oid = k.conrelid "
        "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'raw' and k.contype = 'u' "
        "and k.conname = c.relname || '_record_key'").fetchall()
    for table, name in old:
        conn.execute(sql.SQL("alter table raw.{} drop constraint {}").format(
            sql.Identifier(table), sql.Identifier(name)))


INDEX_NAMES = ("select k.relname from pg_class k join pg_namespace n on n.oid = k.relnamespace "
               "where n.nspname = 'raw' and k.relkind = 'i'")


def _raw_index_names(conn: psycopg.Connection) -> set[str]:
    """Names of raw's indexes, read from the catalog."""
    return {r[0] for r in conn.execute(INDEX_NAMES)}


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the raw and audit tables if missing. Safe to call concurrently and repeatedly.

    Schemas raw and audit come from roles.sql (spw.db.bootstrap). Call it as spw_loader (their
    owner) so that default privileges give the transformer read access; an admin connection
    switches to that role for the DDL.
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_ID,))
        user = conn.execute("select current_user").fetchone()[0]
        if user != "spw_loader":
            conn.execute("set local role spw_loader")
        conn.execute(FILE_LOADS_DDL)
        conn.execute(REJECTED_ROWS_DDL)
        conn.execute(REPLACED_RECORDS_DDL)
        # only when present: dropping the function's triggers would wait for a bulk load holding a table
        if conn.execute("select to_regprocedure('audit.count_raw_write()')").fetchone()[0] is not None:
            for stmt in RETIRED_RAW_WRITES:
                conn.execute(stmt)
        for stmt in AUDIT_INDEXES:
            conn.execute(stmt)
        conn.execute("drop index if exists audit.replaced_records_time_idx")  # older databases
        for source in c.SOURCES.values():
            conn.execute(raw_table_ddl(source))
        _replace_key_constraints(conn)
        # Created only where missing, found from the catalog: CREATE INDEX IF NOT EXISTS would wait
        # for a bulk load holding the table (it locks the table before checking).
        indexes = _raw_index_names(conn)
        for source in c.SOURCES.values():
            for name, ddl in ((f"{source.name}_record_key", record_key_index(source)),
                              (f"{source.name}_loaded_at", loaded_at_index(source))):
                if name not in indexes:
                    conn.execute(ddl)
        # Tables created before loaded_at had a default get it (the loader's COPY leaves it out).
        # Read from pg_attribute, not information_schema.columns: its column_default opens each
        # table, which would wait for a bulk load holding one (parallel loads of other sources).
        missing = conn.execute(
            "select c.relname from pg_attribute a join pg_class c on c.oid = a.attrelid "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'raw' and c.relkind = 'r' "
            "and a.attname = 'loaded_at' and not a.attisdropped and not a.atthasdef").fetchall()
        for (table,) in missing:
            conn.execute(sql.SQL("alter table raw.{} alter column loaded_at set default now()").format(
                sql.Identifier(table)))
