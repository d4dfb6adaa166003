"""Latest delivery wins: the stage table a file goes through when it carries keys already in raw,
and the replacement of those records (the replaced versions kept in audit.replaced_records)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from spw.ingest import contract as c
from spw.ingest.schema import raw_table

STAGE = "spw_stage"


def stage_ddl(source: c.Source) -> sql.Composed:
    cols = []
    for n, t in source.raw_columns:
        default = source.column(n).default if n != c.PATIENT_KEY else None
        # An absent column with a default (funding) is filled by the table default.
        cols.append(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) if default is None else
                    sql.SQL("{} {} default {}").format(sql.Identifier(n), sql.SQL(t), sql.Literal(default)))
    cols.append(sql.SQL("_line bigint not null"))
    return sql.SQL("create temporary table {} ({}) on commit drop").format(
        sql.Identifier(STAGE), sql.SQL(", ").join(cols))


def replace_records(conn: psycopg.Connection, source: c.Source, file_name: str, sha256: str) -> None:
    """Latest delivery wins: move raw records whose key the file carries to audit.replaced_records,
    then insert the file's rows.

    Cheaper than INSERT ... ON CONFLICT for new records; a key twice in the file then fails the
    unique record key index, which the caller reports as a structural fault.
    """
    names = [n for n, _ in source.raw_columns]
    stage = sql.Identifier(STAGE)
    match = sql.SQL(" and ").join(
        sql.SQL("r.{0} = s.{0}" if key_required(source, k) else "r.{0} is not distinct from s.{0}").format(
            sql.Identifier(k)) for k in source.key)
    # No ANALYZE of the stage: it costs about as much as the insert, and the planner already knows
    # the stage's size in pages, which is what the join strategy depends on.
    # The replaced versions go to audit.replaced_records, whole, in the same statement.
    patient = sql.SQL("r.patient_key" if c.PATIENT_KEY in names else "null")
    conn.execute(sql.SQL(
        "with gone as (delete from {t} as r using {s} as s where {m} "
        "returning r.file_sha256, r.loaded_at, {p} as patient_key, to_jsonb(r) as record) "
        "insert into audit.replaced_records (source, patient_key, file_sha256, loaded_at, record, "
        "replaced_by_sha256) select %s, patient_key, file_sha256, loaded_at, record, %s from gone").format(
        t=raw_table(source), s=stage, m=match, p=patient), (source.name, sha256))
    cols = sql.SQL(", ").join(map(sql.Identifier, [*names, "file_name", "file_sha256", "loaded_at"]))
    data = sql.SQL(", ").join(map(sql.Identifier, names))
    conn.execute(sql.SQL("insert into {t} ({cols}) select {data}, %s, %s, now() from {s}").format(
        t=raw_table(source), cols=cols, data=data, s=stage), (file_name, sha256))


def key_required(source: c.Source, name: str) -> bool:
    if name == c.PATIENT_KEY:
        return True
    col = source.column(name)
    return col.required or col.default is not None


def drop_temporary(conn: psycopg.Connection, table: str) -> None:
    """Drop a temporary table now: `on commit drop` alone would leave it to the next file when the
    caller runs several loads in one transaction of its own."""
    conn.execute(sql.SQL("drop table {}").format(sql.Identifier(table)))


