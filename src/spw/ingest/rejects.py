"""Rejected rows: row errors spooled to disk until copied into audit.rejected_rows, the error
threshold, and the record keys of rejected rows checked against the file's other rows (contract §4:
a key twice in a file rejects it, whether or not the rows are valid)."""

from __future__ import annotations

import csv
import tempfile
from typing import IO

import psycopg
from psycopg import sql

from spw.ingest import contract as c
from spw.ingest.copy_stream import Parse, copy_escape
from spw.ingest.records import STAGE, key_required
from spw.ingest.schema import raw_table

REJECTED_KEYS = "spw_rejected_keys"  # record keys of the file's rejected rows (temporary table)


def _spool() -> IO[str]:
    # Closed by Rejects.close (load_file's finally block).
    return tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", newline="", encoding="utf-8")  # noqa: SIM115


class Rejects:
    """Row errors spooled to disk (memory bounded) until they are copied into audit.rejected_rows,
    and the record keys of the rejected rows (COPY text: line, key parts, whether the key could be a
    valid row's), spooled the same way until rejected_keys_table copies them to the server."""

    def __init__(self, source: str, file_name: str, sha256: str) -> None:
        self.spool = _spool()
        self.writer = csv.writer(self.spool)
        self.prefix = (source, file_name, sha256)
        self.count = 0
        self.keys = _spool()
        self.key_count = 0

    def add(self, line: int, errors: list[tuple[str | None, str, str | None]],
            key: tuple[list[str | None], bool] | None = None) -> None:
        for column, rule, value in errors:
            self.writer.writerow((*self.prefix, line, column, rule, value))
            self.count += 1
        if key is not None:
            values, ok = key
            parts = ["\\N" if v is None else copy_escape(v) for v in values]
            self.keys.write("\t".join([str(line), *parts, "t" if ok else "f"]) + "\n")
            self.key_count += 1

    def reset(self) -> None:
        for spool in (self.spool, self.keys):
            spool.seek(0)
            spool.truncate()
        self.count = self.key_count = 0

    def copy_into_audit(self, conn: psycopg.Connection) -> None:
        if not self.count:
            return
        self.spool.seek(0)
        cols = sql.SQL(", ").join(map(sql.Identifier, c.LEDGER.rejected_rows))
        with conn.cursor().copy(sql.SQL("copy audit.rejected_rows ({}) from stdin (format csv)").format(cols)) as cp:
            while block := self.spool.read(1 << 16):
                cp.write(block)

    def close(self) -> None:
        self.spool.close()
        self.keys.close()


def first_error_text(first: tuple[int, str | None, str, str | None]) -> str:
    line, column, rule, value = first
    where = f"line {line}" + (f", column {column}" if column else "")
    return f"{where}: {rule}" + (f" ({value})" if value is not None else "")


def _key_as_text(source: c.Source, name: str) -> sql.Composable:
    """A stage key column as the text a rejected row's key holds (ISO dates whatever DateStyle)."""
    if dict(source.raw_columns)[name] == "date":
        return sql.SQL("to_char({0}, 'YYYY-MM-DD') as {0}").format(sql.Identifier(name))
    return sql.Identifier(name)


def duplicate_key_reason(conn: psycopg.Connection, source: c.Source, with_rejected: bool) -> str:
    """The lines of the first key (by line) that the file carries more than once: among the stage's
    rows and, `with_rejected`, the rejected rows' keys too. Runs only when the file is rejected."""
    keys = sql.SQL(", ").join(map(sql.Identifier, source.key))
    rows = sql.SQL("select _line, {} from {}").format(
        sql.SQL(", ").join(_key_as_text(source, k) for k in source.key), sql.Identifier(STAGE))
    if with_rejected:
        rows = sql.SQL("{} union all select _line, {} from {}").format(rows, keys, sql.Identifier(REJECTED_KEYS))
    row = conn.execute(sql.SQL(
        "select array_agg(_line order by _line), {k} from ({r}) as f group by {k} having count(*) > 1 "
        "order by min(_line) limit 1").format(k=keys, r=rows)).fetchone()
    if row is None:  # not expected: the caller saw a key twice
        return "duplicate record key: a delivery must carry each record once"
    lines = row[0]
    shown = ", ".join(map(str, lines[:5])) + (", ..." if len(lines) > 5 else "")
    if source.person_level and c.PATIENT_KEY in source.key:
        what = "the same patient"
    else:
        what = ", ".join(f"{k}={v if v is not None else '(empty)'}" for k, v in zip(source.key, row[1:], strict=True))
    return (f"duplicate record key ({', '.join(source.key)}): {what} appears on lines {shown}; "
            "a delivery must carry each record once")


def rejected_keys_table(conn: psycopg.Connection, source: c.Source, rejects: Rejects) -> bool:
    """Copy the rejected rows' record keys into a temporary table; False when there are none (no
    rejected row, or none whose key could be read). At most max_invalid_fraction of the file's rows
    once the threshold is checked, and spooled on disk until now: memory stays bounded."""
    if not rejects.key_count:
        return False
    cols = [sql.SQL("{} text").format(sql.Identifier(k)) for k in source.key]
    conn.execute(sql.SQL("create temporary table {} (_line bigint not null, {}, _ok boolean not null) "
                         "on commit drop").format(sql.Identifier(REJECTED_KEYS), sql.SQL(", ").join(cols)))
    rejects.keys.seek(0)
    with conn.cursor().copy(sql.SQL("copy {} from stdin").format(sql.Identifier(REJECTED_KEYS))) as cp:
        while block := rejects.keys.read(1 << 16):
            cp.write(block)
    # A few rows: statistics make the check below look each one up in the record key's index.
    conn.execute(sql.SQL("analyze {}").format(sql.Identifier(REJECTED_KEYS)))
    return True


def rejected_key_repeats(conn: psycopg.Connection, source: c.Source, sha256: str) -> bool:
    """Whether a rejected row's key is also on another rejected row, or on a row of this file now in
    raw.<source> (this transaction's rows of this sha256; an older delivery's record with that key
    is no duplicate). Contract §4: the same record key twice in one file rejects it, whether or not
    the rows are valid. Compared through raw's record key index, as the column's type: only keys a
    valid row could hold (_ok) are cast, so the cast cannot fail."""
    rk = sql.Identifier(REJECTED_KEYS)
    keys = sql.SQL(", ").join(map(sql.Identifier, source.key))
    types = dict(source.raw_columns)
    match = sql.SQL(" and ").join(
        sql.SQL("r.{0} {1} (case when k._ok then k.{0}::{2} end)").format(
            sql.Identifier(n), sql.SQL("=" if key_required(source, n) else "is not distinct from"),
            sql.SQL(types[n])) for n in source.key)
    query = sql.SQL(
        "select exists (select from {rk} group by {keys} having count(*) > 1) "
        "or exists (select from {rk} as k join {t} as r on {m} where k._ok and r.file_sha256 = %s "
        "and r.loaded_at = now())").format(rk=rk, keys=keys, t=raw_table(source), m=match)
    return conn.execute(query, (sha256,)).fetchone()[0]


def threshold_reason(parse: Parse, max_invalid_fraction: float) -> str | None:
    """Why the file is rejected for its row errors, or None when they are within the threshold."""
    if parse.rows_rejected <= max_invalid_fraction * parse.rows_read:
        return None
    pct = 100.0 * parse.rows_rejected / parse.rows_read
    return (f"{parse.rows_rejected} of {parse.rows_read} rows ({pct:.1f}%) broke contract rules, more than the "
            f"{max_invalid_fraction * 100:g}% allowed, so nothing from the file was loaded; first error at "
            f"{first_error_text(parse.first_error)}; all row errors are in audit.rejected_rows")  # type: ignore[arg-type]
