"""Bulk load into an empty raw table, as pg_restore does: record key dropped before the COPY and
rebuilt after it, the table truncated in the load's transaction (no WAL under wal_level = minimal)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from spw.ingest import contract as c
from spw.ingest.schema import loaded_at_index, loaded_at_name, raw_table, record_key_index, record_key_name

# A file this large loaded into an empty raw table goes in as a bulk load (record key built after
# the COPY); below it the saving is a few milliseconds, not worth an exclusive lock.
BULK_MIN_BYTES = 4 << 20
# At most this long waiting for the exclusive lock, then the usual COPY. Shorter than Postgres's
# deadlock_timeout (1 s): two loaders of one source both holding the table's share lock give up
# waiting before the deadlock check would fail one of them.
BULK_LOCK_WAIT = "500ms"


def has_rows(conn: psycopg.Connection, source: c.Source) -> bool:
    return conn.execute(sql.SQL("select exists (select from {})").format(raw_table(source))).fetchone()[0]


def begin_bulk(conn: psycopg.Connection, source: c.Source, file_name: str, sha256: str) -> bool:
    """Prepare a bulk load into an empty raw.<source>, as pg_restore does: drop the unique record key
    (rebuilt by end_bulk from the loaded rows in one sorted pass, instead of one index insertion
    per row), truncate the table (so that, under wal_level = minimal, its rows write no WAL), and give
    file_name and file_sha256 this file's values as column defaults (so they are not sent and parsed
    in every row). All is done and undone in the load's transaction: no other session ever sees
    it, and a killed load leaves nothing.

    This takes an ACCESS EXCLUSIVE lock on the table until the load commits: readers of the (empty)
    table wait for the first delivery. It is not used when the table has rows (their readers would
    wait for the whole load) or when the lock is not granted within BULK_LOCK_WAIT (e.g. a
    transformation still reading the table); then the usual COPY runs.
    """
    if has_rows(conn, source):
        return False
    conn.execute("savepoint spw_bulk")
    try:
        taken = _lock_and_prepare(conn, source, file_name, sha256)
    except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected, psycopg.errors.InsufficientPrivilege):
        taken = False
    # Rolling the savepoint back also releases the lock.
    conn.execute("release savepoint spw_bulk" if taken else "rollback to savepoint spw_bulk")
    return taken


def _lock_and_prepare(conn: psycopg.Connection, source: c.Source, file_name: str, sha256: str) -> bool:
    """begin_bulk's work inside its savepoint; False when the table has rows once locked."""
    table = raw_table(source)
    old_wait = conn.execute("select current_setting('lock_timeout')").fetchone()[0]
    conn.execute("select set_config('lock_timeout', %s, true)", (BULK_LOCK_WAIT,))
    conn.execute(sql.SQL("lock table {} in access exclusive mode").format(table))
    conn.execute("select set_config('lock_timeout', %s, true)", (old_wait,))
    if has_rows(conn, source):  # loaded by another session before the lock was granted
        return False
    conn.execute(sql.SQL("drop index raw.{}").format(record_key_name(source)))
    conn.execute(sql.SQL("drop index if exists raw.{}").format(loaded_at_name(source)))
    # Truncating the (empty) table gives it a new file in this transaction: with
    # wal_level = minimal (the local cluster's setting) the COPY and the key's rebuild then
    # write no WAL, the file being synced at commit instead, as pg_restore's loads do.
    conn.execute(sql.SQL("truncate {}").format(table))
    conn.execute(sql.SQL("alter table {} alter column file_name set default {}, "
                         "alter column file_sha256 set default {}").format(
        table, sql.Literal(file_name), sql.Literal(sha256)))
    return True


def end_bulk(conn: psycopg.Connection, source: c.Source) -> None:
    """Undo begin_bulk's defaults and rebuild the record key and the loaded_at index; a key twice in
    the file raises UniqueViolation (the caller then loads through the stage table, which names the
    lines)."""
    conn.execute(sql.SQL("alter table {} alter column file_name drop default, alter column file_sha256 drop default")
                 .format(raw_table(source)))
    conn.execute(record_key_index(source))
    conn.execute(loaded_at_index(source))


