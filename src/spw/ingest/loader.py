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
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from itertools import chain
from pathlib import Path
from queue import Queue
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.copy import LibpqWriter

from spw.ingest import contract as c
from spw.ingest.pseudonymise import Pseudonymiser, mask_nhs
from spw.ingest.schema import (
    ensure_schema,
    loaded_at_index,
    loaded_at_name,
    raw_table,
    record_key_index,
    record_key_name,
)
from spw.ingest.validate import RowValidator, StructuralError, plan_header

log = logging.getLogger("spw.ingest")

CHUNK = 1 << 20
# Implementation limits beyond the contract (docs/data-contract.md §2), so that memory stays bounded
# whatever the file: a physical line of at most MAX_LINE_BYTES bytes, a field of at most
# MAX_FIELD_CHARS characters. Equal, so that a value loads quoted or not alike (Python's csv alone
# would stop quoted fields at 131072 characters); only a quoted field spanning lines can reach the
# field limit without a line reaching the line limit first.
MAX_LINE_BYTES = 1 << 20
MAX_FIELD_CHARS = MAX_LINE_BYTES
LIMITS_DOC = "an implementation limit, see the data contract"
# Text read and validated at a time (memory stays bounded). 16 Ki characters (about 150 rows) measured
# about 5% less client CPU than 64 Ki (the block's strings stay in cache), and a bad row sends fewer
# rows down the row-by-row path.
BLOCK_CHARS = 1 << 14
COPY_CHARS = 1 << 20  # COPY text buffered before each copy.write
SEND_DEPTH = 4  # COPY pieces queued for the sending thread at most
STAGE = "spw_stage"
REJECTED_KEYS = "spw_rejected_keys"  # record keys of the file's rejected rows (temporary table)
# A file this large loaded into an empty raw table goes in as a bulk load (record key built after
# the COPY); below it the saving is a few milliseconds, not worth an exclusive lock.
BULK_MIN_BYTES = 4 << 20
# At most this long waiting for the exclusive lock, then the usual COPY. Shorter than Postgres's
# deadlock_timeout (1 s): two loaders of one source both holding the table's share lock give up
# waiting before the deadlock check would fail one of them.
BULK_LOCK_WAIT = "500ms"


@dataclass
class LoadResult:
    source: str
    file_name: str
    sha256: str
    bytes: int
    status: str  # loaded | rejected | duplicate
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    run_id: str | None = None

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"

    def summary(self) -> str:
        text = (f"{self.source}/{self.file_name}: {self.status}, {self.rows_read} rows read, "
                f"{self.rows_loaded} loaded, {self.rows_rejected} rejected")
        if self.reason:
            text += f"; reason: {self.reason}"
        if self.warnings:
            text += f"; warnings: {'; '.join(self.warnings)}"
        return mask_nhs(text) or text


@dataclass
class Scan:
    sha256: str
    size: int
    fault: str | None  # a reason that rejects the file before parsing
    mtime_ns: int = 0


def _utf8_fault(exc: UnicodeDecodeError, lines_before: int, head: bytes) -> str:
    data = exc.object
    line = lines_before + bytes(data[: exc.start]).count(b"\n") + 1
    byte = data[exc.start]
    hint = ""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        hint = " (it looks like UTF-16)"
    return (f"the file is not UTF-8 text{hint}: undecodable byte 0x{byte:02x} at line {line}; "
            "save it as UTF-8 (e.g. 'CSV UTF-8') and deliver it again")


# Leading bytes of binary formats commonly saved by mistake under a .csv name.
_SIGNATURES = ((b"PK\x03\x04", "a ZIP archive or Excel workbook"), (b"\xd0\xcf\x11\xe0", "an old Excel/Office file"),
               (b"%PDF", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\x1f\x8b", "a gzip archive"),
               (b"\xff\xd8\xff", "a JPEG image"))


def _binary_signature(head: bytes) -> str | None:
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return f"not a CSV text file: it looks like {kind} (line 1)"
    return None


def scan_file(path: Path) -> Scan:
    """sha256 and size, plus the first fault that makes the file unreadable as a UTF-8 CSV text."""
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    size = tail = 0  # tail: bytes of the current, unfinished line
    fault: str | None = None
    head = b""
    with open(path, "rb") as f:
        mtime_ns = os.fstat(f.fileno()).st_mtime_ns
        while chunk := f.read(CHUNK):
            h.update(chunk)
            if not head:
                head = chunk[:4]
                fault = _binary_signature(head)
            if fault is None:
                fault = _chunk_fault(chunk, decoder, partial(_lines_before, path, size), tail, head)
            size += len(chunk)
            last = chunk.rfind(b"\n")
            tail = tail + len(chunk) if last < 0 else len(chunk) - last - 1
    if size == 0:
        fault = "the file is empty (0 bytes): a delivery needs at least the header row"
    elif fault is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            fault = _utf8_fault(exc, _lines_before(path, size), head)
    return Scan(h.hexdigest(), size, fault, mtime_ns)


def _lines_before(path: Path, offset: int) -> int:
    """Newlines in the file's first `offset` bytes. Counted only to place a fault: counting them for
    every file would cost as much as the sha256."""
    lines = 0
    with open(path, "rb") as f:
        while offset > 0 and (chunk := f.read(min(CHUNK, offset))):
            lines += chunk.count(b"\n")
            offset -= len(chunk)
    return lines


def _chunk_fault(chunk: bytes, decoder: codecs.IncrementalDecoder, lines_before: Callable[[], int], tail: int,
                 head: bytes) -> str | None:
    try:
        # An ASCII chunk with no multi-byte character left open before it is valid UTF-8: skip the
        # decoding (about as costly as the sha256).
        if decoder.getstate()[0] or not chunk.isascii():
            decoder.decode(chunk)
    except UnicodeDecodeError as exc:
        # exc.object may include up to 3 bytes held back from the previous chunk (never a newline).
        return _utf8_fault(exc, lines_before(), head)
    nul = chunk.find(b"\x00")
    if nul >= 0:
        line = lines_before() + chunk.count(b"\n", 0, nul) + 1
        return f"not a CSV text file: binary data (a NUL byte) at line {line}"
    first = chunk.find(b"\n")
    # A chunk is no longer than the limit, so only a line spanning chunks can exceed it.
    if (first < 0 and tail + len(chunk) > MAX_LINE_BYTES) or (first >= 0 and tail + first > MAX_LINE_BYTES):
        return (f"line {lines_before() + 1} is longer than {MAX_LINE_BYTES} bytes, the loader's limit for one line "
                f"({LIMITS_DOC})")
    return None


@dataclass
class _Parse:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    blank_lines: int = 0
    first_error: tuple[int, str | None, str, str | None] | None = None
    warnings: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.__dict__.update(_Parse().__dict__)


def _spool() -> IO[str]:
    # Closed by _Rejects.close (load_file's finally block).
    return tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+", newline="", encoding="utf-8")  # noqa: SIM115


class _Rejects:
    """Row errors spooled to disk (memory bounded) until they are copied into audit.rejected_rows,
    and the record keys of the rejected rows (COPY text: line, key parts, whether the key could be a
    valid row's), spooled the same way until _rejected_keys_table copies them to the server."""

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
            parts = ["\\N" if v is None else _copy_escape(v) for v in values]
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


class _SendThread(LibpqWriter):
    """COPY data sent by a thread of its own, so that the client and the server work at once: the
    loader parses, validates and pseudonymises the next block (Python, holding the GIL) while this
    thread waits on the socket (libpq, without the GIL) and the backend inserts the rows already sent.
    Sent in the loader's thread, the two mostly took turns. At most `depth` pieces wait in the queue,
    so memory stays bounded when the server is the slower side.
    """

    def __init__(self, cursor: psycopg.Cursor[Any], depth: int = SEND_DEPTH) -> None:
        super().__init__(cursor)
        self._queue: Queue[Buffer] = Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._send, name="spw-copy", daemon=True)
        self._thread.start()

    def _send(self) -> None:
        try:
            while data := self._queue.get():
                super().write(data)
        except BaseException as exc:  # re-raised in the loader's thread by write() or finish()
            self._error = exc
            while self._queue.get():  # keep taking pieces, or write() would wait for ever
                pass

    def write(self, data: Buffer) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def finish(self, exc: BaseException | None = None) -> None:
        self._queue.put(b"")
        self._thread.join()
        error = self._error
        # A failure on either side ends the COPY with CopyFail (nothing of it is kept).
        super().finish(exc or error)
        if error is not None and exc is None:
            raise error


def _stage_ddl(source: c.Source) -> sql.Composed:
    cols = []
    for n, t in source.raw_columns:
        default = source.column(n).default if n != c.PATIENT_KEY else None
        # An absent column with a default (funding) is filled by the table default.
        cols.append(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) if default is None else
                    sql.SQL("{} {} default {}").format(sql.Identifier(n), sql.SQL(t), sql.Literal(default)))
    cols.append(sql.SQL("_line bigint not null"))
    return sql.SQL("create temporary table {} ({}) on commit drop").format(
        sql.Identifier(STAGE), sql.SQL(", ").join(cols))


def _copy_escape(v: str) -> str:
    """A value in PostgreSQL's COPY text format."""
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _quoted_record(line: str, lines: Iterator[str], line_no: int) -> tuple[list[str], int]:
    """The record starting with a line that holds a double quote, parsed by csv (strict RFC 4180);
    a quoted field may span lines. Returns the fields and how many lines the record used."""
    reader = csv.reader(chain((line,), lines), strict=True)
    try:
        rec = next(reader)
    except csv.Error as exc:
        if str(exc).startswith("field larger than field limit"):
            raise StructuralError(
                f"the record starting at line {line_no} has a quoted field longer than {MAX_FIELD_CHARS} characters, "
                f"the loader's limit for one field ({LIMITS_DOC})") from None
        raise StructuralError(f"malformed CSV at line {line_no + max(reader.line_num - 1, 0)}: {exc}") from None
    return rec, reader.line_num


@contextmanager
def _csv_field_limit() -> Iterator[None]:
    """csv's field limit (one process-wide setting, 131072 characters by default) at MAX_FIELD_CHARS
    while a file is parsed, and back to what it was after, for any other csv user in the process."""
    old = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _header(lines: Iterator[str]) -> tuple[list[str], int]:
    line = next(lines, None)
    if line is None:
        raise StructuralError("no header row: the file holds no line of text")
    if not line.strip():
        raise StructuralError("no header row: line 1 is empty")
    if '"' in line:
        return _quoted_record(line, lines, 1)
    return line.rstrip("\r\n").split(","), 1


class _NeedStage(Exception):
    """The direct path cannot be used (or met an existing key): load through the stage table."""


class _RowStream:
    """Validated rows of one file into one COPY, in text format with NULL '' (every empty field is
    NULL per the contract), whole blocks of lines at a time.

    A block of lines with no double quote, backslash, tab or lone carriage return in which every line
    has the header's number of fields is split in one call and validated column by column
    (RowValidator.validate_block). Its COPY text is the block's fields joined by tabs, patient_key in
    place of the identity (COPY lists the columns in the file's order), or, when the file has unknown
    columns to leave out or the stage needs line numbers, built with list slicing. Any other
    block (quoted fields, blank lines, a row to reject or to change) goes line by line as before: a
    line without a double quote is split directly, a line with one goes through csv, and only fields
    that may hold a tab, newline or backslash are escaped.
    """

    def __init__(self, cp: psycopg.Copy, validator: RowValidator, text: IO[str], line_no: int,
                 suffix: str | None, rejects: _Rejects, parse: _Parse) -> None:
        """`suffix`: COPY text after each row's values: None for the row's line number (stage table),
        "" for nothing (bulk load: the file's name and sha256 come from column defaults), else the
        file's name and sha256."""
        self.cp, self.validator, self.text, self.line_no = cp, validator, text, line_no
        self.suffix, self.rejects, self.parse = suffix, rejects, parse
        self.end = f"\t{suffix}\n" if suffix else "\n"  # a row's end when it is not a line number
        self.step = validator.n_fields + 1  # fields of a row plus the row-end marker
        self.out: list[str] = []
        self.out_chars = self.loaded = self.rejected = self.blank = 0

    def run(self) -> None:
        read, readline = self.text.read, self.text.readline
        while block := read(BLOCK_CHARS):
            if block[-1] != "\n":
                block += readline()  # whole lines only
            if not self._block(block):
                self._lines(block)
        self._flush()

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.out_chars += len(chunk)
        if self.out_chars >= COPY_CHARS:
            self._flush()

    def _flush(self) -> None:
        if self.out:
            self.cp.write("".join(self.out))
            self.out.clear()
            self.out_chars = 0

    def _block(self, block: str) -> bool:
        """Load a block in one go; False (nothing done) when it needs the line-by-line path."""
        if '"' in block or "\\" in block or "\t" in block:
            return False
        # A "\n" marker after each row: the rows all have n_fields fields exactly when the markers
        # sit every `step` items and there is no other newline. CRLF line ends become the markers in
        # the same pass; a lone carriage return left over sends the block line by line.
        if "\r" in block:
            body = block[:-2] if block.endswith("\r\n") else block
            marked = body.replace("\r\n", ",\n,")
            if "\r" in marked:
                return False
        else:
            body = block[:-1] if block[-1] == "\n" else block
            marked = body.replace("\n", ",\n,")
        flat = marked.split(",")
        step = self.step
        rows, extra = divmod(len(flat) + 1, step)
        if extra or flat[step - 1::step].count("\n") != rows - 1 or marked.count("\n") != rows - 1:
            return False
        validator = self.validator
        keys = validator.validate_block(flat, step)
        if keys is None:
            return False
        first = self.line_no + 1
        self.line_no += rows
        self.loaded += rows
        if validator.whole_rows and self.suffix is not None:
            # The rows go to COPY field for field: tabs for commas, the row-end markers become the
            # row ends (no value holds a tab or newline), patient_key in place of the identity.
            if validator.identity_index is not None:
                flat[validator.identity_index::step] = keys
            self._emit("\t".join(flat).replace("\t\n\t", self.end) + self.end)
            return True
        cols = validator.block_columns(flat, step, keys)
        if self.suffix is None:
            cols.append(list(map(str, range(first, first + rows))))
        elif self.suffix:
            cols.append([self.suffix] * rows)
        width = 2 * len(cols)
        out = ["\t"] * (rows * width)  # value, tab, value, tab, ..., value, newline
        for k, col in enumerate(cols):
            out[2 * k::width] = col
        out[width - 1::width] = ["\n"] * rows
        self._emit("".join(out))
        return True

    def _lines(self, block: str) -> None:
        """The block line by line; a quoted field may continue past the block into the file."""
        lines = iter(io.StringIO(block, newline=""))
        more = chain(lines, self.text)
        validate, suffix, parse, end = self.validator.validate, self.suffix, self.parse, self.end
        for text_line in lines:
            self.line_no += 1
            start = self.line_no
            if '"' in text_line:
                rec, used = _quoted_record(text_line, more, start)
                self.line_no += used - 1
                plain = False
            else:
                body = text_line.rstrip("\r\n")
                if not body or body.isspace():
                    self.blank += 1
                    continue
                rec = body.split(",")
                plain = "\\" not in body and "\t" not in body
            row, errors = validate(rec)
            if errors is None:
                line = "\t".join(row) if plain else "\t".join(map(_copy_escape, row))  # type: ignore[arg-type]
                self.loaded += 1
                self._emit(f"{line}\t{start}\n" if suffix is None else line + end)
            else:
                self.rejected += 1
                if parse.first_error is None:
                    parse.first_error = (start, *errors[0])
                self.rejects.add(start, errors, self.validator.record_key(rec))


def _stream_rows(conn: psycopg.Connection, source: c.Source, text: IO[str], today: date,
                 rejects: _Rejects, parse: _Parse, direct: tuple[str, str] | None = None,
                 bulk: bool = False) -> None:
    """Parse, validate and COPY valid rows into the stage table (with each row's line number), or
    with `direct` = (file_name, sha256) straight into raw.<source> (with `bulk`, leaving file_name
    and file_sha256 to the column defaults set by _begin_bulk); raise StructuralError on a file
    fault."""
    try:
        header, line_no = _header(iter(text))
    except UnicodeDecodeError:
        raise StructuralError("the file changed while it was being loaded; deliver it again") from None
    plan = plan_header(source, header)
    parse.warnings.extend(plan.warnings)
    validator = RowValidator(plan, today, Pseudonymiser())
    if direct is None:
        target, extra, suffix = sql.Identifier(STAGE), ["_line"], None
    else:
        if any(col.default is not None and col.name not in plan.positions for col in source.columns):
            raise _NeedStage("an absent column takes its default from the stage table")
        # loaded_at comes from the column default now(): the transaction's start, as in the stage path.
        target = raw_table(source)
        extra = [] if bulk else ["file_name", "file_sha256"]
        suffix = "" if bulk else "\t".join(map(_copy_escape, direct))
    copy_sql = sql.SQL("copy {} ({}) from stdin (format text, null '')").format(
        target, sql.SQL(", ").join(map(sql.Identifier, [*validator.stage_columns, *extra])))
    cur = conn.cursor()
    with cur.copy(copy_sql, writer=_SendThread(cur)) as cp:
        stream = _RowStream(cp, validator, text, line_no, suffix, rejects, parse)
        try:
            stream.run()
        except UnicodeDecodeError:
            raise StructuralError("the file changed while it was being loaded; deliver it again") from None
    parse.blank_lines = stream.blank
    parse.rows_loaded = stream.loaded
    parse.rows_rejected = stream.rejected
    parse.rows_read = stream.loaded + stream.rejected


def _first_error_text(first: tuple[int, str | None, str, str | None]) -> str:
    line, column, rule, value = first
    where = f"line {line}" + (f", column {column}" if column else "")
    return f"{where}: {rule}" + (f" ({value})" if value is not None else "")


def _key_as_text(source: c.Source, name: str) -> sql.Composable:
    """A stage key column as the text a rejected row's key holds (ISO dates whatever DateStyle)."""
    if dict(source.raw_columns)[name] == "date":
        return sql.SQL("to_char({0}, 'YYYY-MM-DD') as {0}").format(sql.Identifier(name))
    return sql.Identifier(name)


def _duplicate_key_reason(conn: psycopg.Connection, source: c.Source, with_rejected: bool) -> str:
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


def _rejected_keys_table(conn: psycopg.Connection, source: c.Source, rejects: _Rejects) -> bool:
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


def _rejected_key_repeats(conn: psycopg.Connection, source: c.Source, sha256: str) -> bool:
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
            sql.Identifier(n), sql.SQL("=" if _key_required(source, n) else "is not distinct from"),
            sql.SQL(types[n])) for n in source.key)
    query = sql.SQL(
        "select exists (select from {rk} group by {keys} having count(*) > 1) "
        "or exists (select from {rk} as k join {t} as r on {m} where k._ok and r.file_sha256 = %s "
        "and r.loaded_at = now())").format(rk=rk, keys=keys, t=raw_table(source), m=match)
    return conn.execute(query, (sha256,)).fetchone()[0]


def _replace_records(conn: psycopg.Connection, source: c.Source, file_name: str, sha256: str) -> None:
    """Latest delivery wins: move raw records whose key the file carries to audit.replaced_records,
    then insert the file's rows.

    Cheaper than INSERT ... ON CONFLICT for new records; a key twice in the file then fails the
    unique record key index, which the caller reports as a structural fault.
    """
    names = [n for n, _ in source.raw_columns]
    stage = sql.Identifier(STAGE)
    match = sql.SQL(" and ").join(
        sql.SQL("r.{0} = s.{0}" if _key_required(source, k) else "r.{0} is not distinct from s.{0}").format(
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


class _NotEmpty(Exception):
    """raw.<source> holds rows: no bulk load (raised inside a savepoint, to release the lock)."""


def _has_rows(conn: psycopg.Connection, source: c.Source) -> bool:
    return conn.execute(sql.SQL("select exists (select from {})").format(raw_table(source))).fetchone()[0]


def _begin_bulk(conn: psycopg.Connection, source: c.Source, file_name: str, sha256: str) -> bool:
    """Prepare a bulk load into an empty raw.<source>, as pg_restore does: drop the unique record key
    (rebuilt by _end_bulk from the loaded rows in one sorted pass, instead of one index insertion
    per row), truncate the table (so that, under wal_level = minimal, its rows write no WAL), and give
    file_name and file_sha256 this file's values as column defaults (so they are not sent and parsed
    in every row). All is done and undone in the load's transaction: no other session ever sees
    it, and a killed load leaves nothing.

    This takes an ACCESS EXCLUSIVE lock on the table until the load commits: readers of the (empty)
    table wait for the first delivery. It is not used when the table has rows (their readers would
    wait for the whole load) or when the lock is not granted within BULK_LOCK_WAIT (e.g. a
    transformation still reading the table); then the usual COPY runs.
    """
    if _has_rows(conn, source):
        return False
    table = raw_table(source)
    try:
        with conn.transaction():  # a savepoint: its rollback also releases the lock
            old_wait = conn.execute("select current_setting('lock_timeout')").fetchone()[0]
            conn.execute("select set_config('lock_timeout', %s, true)", (BULK_LOCK_WAIT,))
            conn.execute(sql.SQL("lock table {} in access exclusive mode").format(table))
            conn.execute("select set_config('lock_timeout', %s, true)", (old_wait,))
            if _has_rows(conn, source):  # loaded by another session before the lock was granted
                raise _NotEmpty
            conn.execute(sql.SQL("drop index raw.{}").format(record_key_name(source)))
            conn.execute(sql.SQL("drop index if exists raw.{}").format(loaded_at_name(source)))
            # Truncating the (empty) table gives it a new file in this transaction: with
            # wal_level = minimal (the local cluster's setting) the COPY and the key's rebuild then
            # write no WAL, the file being synced at commit instead, as pg_restore's loads do.
            conn.execute(sql.SQL("truncate {}").format(table))
            conn.execute(sql.SQL("alter table {} alter column file_name set default {}, "
                                 "alter column file_sha256 set default {}").format(
                table, sql.Literal(file_name), sql.Literal(sha256)))
    except (_NotEmpty, psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected,
            psycopg.errors.InsufficientPrivilege):
        return False
    return True


def _end_bulk(conn: psycopg.Connection, source: c.Source) -> None:
    """Undo _begin_bulk's defaults and rebuild the record key and the loaded_at index; a key twice in
    the file raises UniqueViolation (the caller then loads through the stage table, which names the
    lines)."""
    conn.execute(sql.SQL("alter table {} alter column file_name drop default, alter column file_sha256 drop default")
                 .format(raw_table(source)))
    conn.execute(record_key_index(source))
    conn.execute(loaded_at_index(source))


def _key_required(source: c.Source, name: str) -> bool:
    if name == c.PATIENT_KEY:
        return True
    col = source.column(name)
    return col.required or col.default is not None


def _load_rows(conn: psycopg.Connection, source: c.Source, path: Path, scan: Scan, file_name: str,
               today: date, max_invalid_fraction: float, rejects: _Rejects, parse: _Parse) -> None:
    """Everything that may be rolled back: copy, validate, threshold, replace records.

    First try: COPY straight into raw (activity deliveries normally carry only new keys), as a bulk
    load when raw.<source> is empty and the file large (_begin_bulk). If a key is already in raw or
    twice in the file, the unique record key stops the COPY (or the bulk load's rebuilt key); the
    savepoint undoes it and the file is loaded again through a stage table, which replaces records
    and names duplicate lines. Either way the file's rows arrive in one transaction.

    A rejected row's key shared with another row of the file is found after the COPY, from the
    rejected rows' keys alone (valid rows cost nothing more); the stage path then names the lines.
    The error threshold is checked first: a file over it is rejected for its row errors, whatever
    its keys, and the keys to check are then at most max_invalid_fraction of its rows.
    """
    try:
        with conn.transaction():
            bulk = scan.size >= BULK_MIN_BYTES and _begin_bulk(conn, source, file_name, scan.sha256)
            _parse_file(conn, source, path, scan, today, rejects, parse, (file_name, scan.sha256), bulk)
            _check_threshold(parse, max_invalid_fraction)
            if bulk:
                _end_bulk(conn, source)
            if _rejected_keys_table(conn, source, rejects):
                if _rejected_key_repeats(conn, source, scan.sha256):
                    raise _NeedStage("a rejected row's record key is on another row: the stage names the lines")
                _drop_temporary(conn, REJECTED_KEYS)
            return
    except (_NeedStage, psycopg.errors.UniqueViolation):
        rejects.reset()
        parse.reset()
    conn.execute(_stage_ddl(source))
    _parse_file(conn, source, path, scan, today, rejects, parse, None)
    _check_threshold(parse, max_invalid_fraction)
    with_rejected = _rejected_keys_table(conn, source, rejects)
    try:
        with conn.transaction():
            _replace_records(conn, source, file_name, scan.sha256)
    except psycopg.errors.UniqueViolation:
        raise StructuralError(_duplicate_key_reason(conn, source, with_rejected)) from None
    if with_rejected:
        if _rejected_key_repeats(conn, source, scan.sha256):
            raise StructuralError(_duplicate_key_reason(conn, source, True))
        _drop_temporary(conn, REJECTED_KEYS)
    _drop_temporary(conn, STAGE)


def _drop_temporary(conn: psycopg.Connection, table: str) -> None:
    """Drop a temporary table now: `on commit drop` alone would leave it to the next file when the
    caller runs several loads in one transaction of its own."""
    conn.execute(sql.SQL("drop table {}").format(sql.Identifier(table)))


def _parse_file(conn: psycopg.Connection, source: c.Source, path: Path, scan: Scan, today: date,
                rejects: _Rejects, parse: _Parse, direct: tuple[str, str] | None, bulk: bool = False) -> None:
    with open(path, "rb") as f, _csv_field_limit():
        text = io.TextIOWrapper(io.BufferedReader(f, CHUNK), encoding="utf-8-sig", newline="")
        _stream_rows(conn, source, text, today, rejects, parse, direct, bulk)
        # The sha256 in the ledger is of the scanned bytes: a file rewritten since is not this delivery.
        st = os.fstat(f.fileno())
    if (st.st_size, st.st_mtime_ns) != (scan.size, scan.mtime_ns):
        raise StructuralError("the file changed while it was being loaded; deliver it again")


def _check_threshold(parse: _Parse, max_invalid_fraction: float) -> None:
    if parse.rows_rejected > max_invalid_fraction * parse.rows_read:
        pct = 100.0 * parse.rows_rejected / parse.rows_read
        raise StructuralError(
            f"{parse.rows_rejected} of {parse.rows_read} rows ({pct:.1f}%) broke contract rules, more than the "
            f"{max_invalid_fraction * 100:g}% allowed, so nothing from the file was loaded; first error at "
            f"{_first_error_text(parse.first_error)}; all row errors are in audit.rejected_rows"  # type: ignore[arg-type]
        )


def _already_loaded(conn: psycopg.Connection, sha256: str) -> bool:
    row = conn.execute("select 1 from audit.file_loads where sha256 = %s and status = 'loaded' limit 1",
                       (sha256,)).fetchone()
    return row is not None


def _write_ledger(conn: psycopg.Connection, r: LoadResult) -> None:
    cols = c.LEDGER.file_loads
    values = (r.source, r.file_name, r.sha256, r.bytes, r.rows_read, r.rows_loaded, r.rows_rejected, r.status,
              mask_nhs(r.reason), mask_nhs("; ".join(r.warnings)) or None, r.started_at, r.finished_at, r.run_id)
    conn.execute(sql.SQL("insert into audit.file_loads ({}) values ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join(sql.Placeholder() * len(cols))), values)


def _now() -> datetime:
    return datetime.now(UTC)


def load_file(conn: psycopg.Connection, source: str, path: str | os.PathLike, run_id: str | None = None,
              max_invalid_fraction: float = 0.01, today: date | None = None) -> LoadResult:
    """Load one delivery in one transaction; return its ledger entry. `today` is the load date."""
    src = c.get_source(source)
    path = Path(path)
    today = today or date.today()
    file_name = mask_nhs(path.name) or path.name
    started = _now()
    scan = scan_file(path)
    result = LoadResult(src.name, file_name, scan.sha256, scan.size, "loaded", started_at=started, run_id=run_id)
    rejects = _Rejects(src.name, file_name, scan.sha256)
    parse = _Parse()
    try:
        with conn.transaction():
            # Two loaders given the same bytes queue here, and the second one sees a duplicate.
            conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (scan.sha256,))
            if _already_loaded(conn, scan.sha256):
                result.status = "duplicate"
            elif scan.fault:
                result.status, result.reason = "rejected", scan.fault
            else:
                try:
                    with conn.transaction():  # savepoint: a rejection undoes all of the file's rows
                        _load_rows(conn, src, path, scan, file_name, today, max_invalid_fraction, rejects, parse)
                except StructuralError as exc:
                    result.status, result.reason = "rejected", mask_nhs(str(exc))
                result.rows_read, result.rows_rejected = parse.rows_read, parse.rows_rejected
                result.rows_loaded = parse.rows_loaded if result.status == "loaded" else 0
                result.warnings = parse.warnings + (
                    [f"skipped {parse.blank_lines} blank line(s)"] if parse.blank_lines else [])
                rejects.copy_into_audit(conn)
            result.finished_at = _now()
            _write_ledger(conn, result)
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
