"""Load landed CSV deliveries into raw.<source>, one file = one transaction, per the data contract.

Per file: (1) a byte scan computes sha256 and finds encoding/binary faults with their line number;
(2) inside one transaction the rows are parsed, validated and pseudonymised as a stream and sent
with COPY (no row inserts): straight into raw.<source> when the delivery brings only new record
keys (the common case; into an empty table a large file goes in as a bulk load, the record key being
rebuilt after the COPY as pg_restore does), otherwise, after the unique key stops that COPY, into a
temporary stage table from which records are replaced in raw (latest delivery wins) and duplicate
keys in the file (a rejected row's key included) are reported by line. The ledger row and the row
errors are written in the same transaction. A rejected file rolls back to a savepoint, so raw is
untouched and only the ledger records it. A killed loader or a lost server commits nothing.

The parts live in modules of their own: scan (bytes), copy_stream (rows into COPY), bulk (the empty
table path), records (stage table, latest delivery wins), rejects (row errors, threshold, duplicate
keys) and ledger (audit.file_loads); this module puts them together.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg

from spw import key_custody
from spw.ingest import contract as c
from spw.ingest.bulk import BULK_MIN_BYTES, begin_bulk, end_bulk
from spw.ingest.copy_stream import Parse, parse_file
from spw.ingest.ledger import LoadResult, already_loaded, now, write_ledger
from spw.ingest.pseudonymise import mask_nhs
from spw.ingest.records import STAGE, drop_temporary, replace_records, stage_ddl
from spw.ingest.rejects import (
    REJECTED_KEYS,
    Rejects,
    duplicate_key_reason,
    rejected_key_repeats,
    rejected_keys_table,
    threshold_reason,
)
from spw.ingest.scan import Scan, scan_file
from spw.ingest.schema import ensure_schema
from spw.ingest.validate import StructuralError
from spw.secrets import pseudonymisation_key

__all__ = ["LoadResult", "delivery_files", "load_file", "load_source", "loader_connection", "scan_file"]

log = logging.getLogger("spw.ingest")


def _load_rows(conn: psycopg.Connection, source: c.Source, path: Path, scan: Scan, file_name: str,
               today: date, max_invalid_fraction: float, rejects: Rejects, parse: Parse) -> str | None:
    """Copy, validate, check the threshold, replace records; return why the file is rejected (the
    caller then rolls its savepoint back), or None when its rows are in raw.

    First try: COPY straight into raw (activity deliveries normally carry only new keys), as a bulk
    load when raw.<source> is empty and the file large (begin_bulk). If a key is already in raw or
    twice in the file, the unique record key stops the COPY (or the bulk load's rebuilt key); the
    savepoint undoes it and the file is loaded again through a stage table, which replaces records
    and names duplicate lines. Either way the file's rows arrive in one transaction.
    """
    try:
        conn.execute("savepoint spw_direct")
        if _load_direct(conn, source, path, scan, file_name, today, max_invalid_fraction, rejects, parse):
            conn.execute("release savepoint spw_direct")
        else:
            conn.execute("rollback to savepoint spw_direct")
            rejects.reset()
            parse.reset()
            duplicate = _load_staged(conn, source, path, scan, file_name, today, max_invalid_fraction, rejects,
                                     parse)
            if duplicate:
                return duplicate
        return threshold_reason(parse, max_invalid_fraction)
    except StructuralError as exc:
        return str(exc)


def _load_direct(conn: psycopg.Connection, source: c.Source, path: Path, scan: Scan, file_name: str,
                 today: date, max_invalid_fraction: float, rejects: Rejects, parse: Parse) -> bool:
    """The file straight into raw.<source>; False when it must go through the stage table instead.

    A rejected row's key shared with another row of the file is found after the COPY, from the
    rejected rows' keys alone (valid rows cost nothing more); the stage path then names the lines.
    The error threshold is checked first: a file over it is rejected for its row errors, whatever
    its keys, and the keys to check are then at most max_invalid_fraction of its rows.
    """
    bulk = scan.size >= BULK_MIN_BYTES and begin_bulk(conn, source, file_name, scan.sha256)
    try:
        if not parse_file(conn, source, path, scan, today, rejects, parse, (file_name, scan.sha256), bulk):
            return False
        if threshold_reason(parse, max_invalid_fraction):
            return True
        if bulk:
            end_bulk(conn, source)
    except psycopg.errors.UniqueViolation:
        return False
    if rejected_keys_table(conn, source, rejects):
        if rejected_key_repeats(conn, source, scan.sha256):
            return False
        drop_temporary(conn, REJECTED_KEYS)
    return True


def _load_staged(conn: psycopg.Connection, source: c.Source, path: Path, scan: Scan, file_name: str,
                 today: date, max_invalid_fraction: float, rejects: Rejects, parse: Parse) -> str | None:
    """The file through the stage table, replacing the records it carries; the duplicate key reason
    when a record key is twice in the file."""
    conn.execute(stage_ddl(source))
    parse_file(conn, source, path, scan, today, rejects, parse, None)
    if threshold_reason(parse, max_invalid_fraction):
        return None
    with_rejected = rejected_keys_table(conn, source, rejects)
    try:
        with conn.transaction():
            replace_records(conn, source, file_name, scan.sha256)
    except psycopg.errors.UniqueViolation:
        return duplicate_key_reason(conn, source, with_rejected)
    if with_rejected:
        if rejected_key_repeats(conn, source, scan.sha256):
            return duplicate_key_reason(conn, source, True)
        drop_temporary(conn, REJECTED_KEYS)
    drop_temporary(conn, STAGE)
    return None


def load_file(conn: psycopg.Connection, source: str, path: str | os.PathLike, run_id: str | None = None,
              max_invalid_fraction: float = 0.01, today: date | None = None) -> LoadResult:
    """Load one delivery in one transaction; return its ledger entry. `today` is the load date."""
    src = c.get_source(source)
    path = Path(path)
    today = today or date.today()
    file_name = mask_nhs(path.name) or path.name
    started = now()
    scan = scan_file(path)
    result = LoadResult(src.name, file_name, scan.sha256, scan.size, "loaded", started_at=started, run_id=run_id)
    rejects = Rejects(src.name, file_name, scan.sha256)
    parse = Parse()
    try:
        with conn.transaction():
            # Two loaders given the same bytes queue here, and the second one sees a duplicate.
            conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (scan.sha256,))
            key_custody.check_or_record(conn, pseudonymisation_key())  # a wrong key writes nothing
            if already_loaded(conn, scan.sha256):
                result.status = "duplicate"
            elif scan.fault:
                result.status, result.reason = "rejected", scan.fault
            else:
                conn.execute("savepoint spw_file")  # a rejection undoes all of the file's rows
                reason = _load_rows(conn, src, path, scan, file_name, today, max_invalid_fraction, rejects, parse)
                conn.execute("rollback to savepoint spw_file" if reason else "release savepoint spw_file")
                if reason:
                    result.status, result.reason = "rejected", mask_nhs(reason)
                result.rows_read, result.rows_rejected = parse.rows_read, parse.rows_rejected
                result.rows_loaded = parse.rows_loaded if result.status == "loaded" else 0
                result.warnings = parse.warnings + (
                    [f"skipped {parse.blank_lines} blank line(s)"] if parse.blank_lines else [])
                rejects.copy_into_audit(conn)
            result.finished_at = now()
            write_ledger(conn, result)
    finally:
        rejects.close()
    log.debug("%s", result.summary())  # callers (the DAG task, the CLI) report outcomes
    return result


def delivery_files(folder: Path) -> list[Path]:
    """The source folder's *.csv files (any case, not hidden), in lexical order of file name."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir()
             if p.is_file() and p.suffix.lower() == ".csv" and not p.name.startswith(".")]
    return sorted(files, key=lambda p: p.name)


def loader_connection() -> psycopg.Connection:
    from spw import db

    return db.connect("warehouse", "spw_loader")


def load_source(conn_factory: Callable[[], psycopg.Connection] | None, landing_dir: str | os.PathLike, source: str,
                run_id: str | None = None, max_invalid_fraction: float = 0.01,
                today: date | None = None) -> list[LoadResult]:
    """Load every delivery of one source, in lexical order of file name, each in its own transaction."""
    src = c.get_source(source)
    files = delivery_files(Path(landing_dir) / src.name)
    if not files:
        log.info("%s: no deliveries in %s", src.name, Path(landing_dir) / src.name)
    with (conn_factory or loader_connection)() as conn:
        ensure_schema(conn)
        return [load_file(conn, src.name, p, run_id, max_invalid_fraction, today) for p in files]
