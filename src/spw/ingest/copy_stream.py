"""The COPY stream: a delivery's rows parsed, validated and pseudonymised block by block and sent
with COPY (text format) by a thread of its own, into raw.<source> or the stage table."""

from __future__ import annotations

import csv
import io
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from pathlib import Path
from queue import Queue
from typing import IO, TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.copy import LibpqWriter

from spw.ingest import contract as c
from spw.ingest.held import HeldRows
from spw.ingest.pseudonymise import Pseudonymiser
from spw.ingest.records import STAGE
from spw.ingest.scan import CHUNK, LIMITS_DOC, MAX_FIELD_CHARS, Scan
from spw.ingest.schema import raw_table
from spw.ingest.validate import RowValidator, StructuralError, plan_header

if TYPE_CHECKING:
    from spw.ingest.rejects import Rejects

# Text read and validated at a time (memory stays bounded). 16 Ki characters (about 150 rows) measured
# about 5% less client CPU than 64 Ki (the block's strings stay in cache), and a bad row sends fewer
# rows down the row-by-row path.
BLOCK_CHARS = 1 << 14
COPY_CHARS = 1 << 20  # COPY text buffered before each copy.write
SEND_DEPTH = 4  # COPY pieces queued for the sending thread at most


@dataclass
class Parse:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    blank_lines: int = 0
    first_error: tuple[int, str | None, str, str | None] | None = None
    warnings: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.__dict__.update(Parse().__dict__)


class SendThread(LibpqWriter):
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


def copy_escape(v: str) -> str:
    """A value in PostgreSQL's COPY text format."""
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def quoted_record(line: str, lines: Iterator[str], line_no: int) -> tuple[list[str], int]:
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
def csv_field_limit() -> Iterator[None]:
    """csv's field limit (one process-wide setting, 131072 characters by default) at MAX_FIELD_CHARS
    while a file is parsed, and back to what it was after, for any other csv user in the process."""
    old = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def read_header(lines: Iterator[str]) -> tuple[list[str], int]:
    line = next(lines, None)
    if line is None:
        raise StructuralError("no header row: the file holds no line of text")
    if not line.strip():
        raise StructuralError("no header row: line 1 is empty")
    if '"' in line:
        return quoted_record(line, lines, 1)
    return line.rstrip("\r\n").split(","), 1


class RowStream:
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
                 suffix: str | None, rejects: Rejects, parse: Parse) -> None:
        """`suffix`: COPY text after each row's values: None for the row's line number (stage table),
        "" for nothing (bulk load: the file's name and sha256 come from column defaults), else the
        file's name and sha256."""
        self.cp, self.validator, self.text, self.line_no = cp, validator, text, line_no
        self.suffix, self.rejects, self.parse = suffix, rejects, parse
        self.end = f"\t{suffix}\n" if suffix else "\n"  # a row's end when it is not a line number
        self.step = validator.n_fields + 1  # fields of a row plus the row-end marker
        self.out: list[str] = []
        self.out_chars = self.loaded = self.rejected = self.blank = 0
        self.held = HeldRows()

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
        lines = range(first, first + rows)
        if validator.block_suspects:
            flat, keys, lines = self._hold_block(flat, keys, first, rows, validator.block_suspects)
            rows = len(lines)
            if not rows:
                return True
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
            cols.append(list(map(str, lines)))
        elif self.suffix:
            cols.append([self.suffix] * rows)
        width = 2 * len(cols)
        out = ["\t"] * (rows * width)  # value, tab, value, tab, ..., value, newline
        for k, col in enumerate(cols):
            out[2 * k::width] = col
        out[width - 1::width] = ["\n"] * rows
        self._emit("".join(out))
        return True

    def _hold_block(self, flat: list[str], keys: list[str], first: int, rows: int,
                    suspects: dict[int, list[tuple[str, str]]]) -> tuple[list[str], list[str], list[int]]:
        """Take the block's suspect rows out of it into the held rows (already validated: their COPY
        text is built here); the block's other rows, their keys and line numbers."""
        step, n, validator = self.step, self.step - 1, self.validator
        ident, order = validator.identity_index, validator.stage_fields
        kept_flat: list[str] = []
        start = 0
        for r in sorted(suspects):
            rec = flat[r * step:r * step + n]
            line = "\t".join([keys[r] if i == ident else rec[i] for i in order])
            text = f"{line}\t{first + r}\n" if self.suffix is None else line + self.end
            self.held.add(first + r, rec, text, suspects[r])
            kept_flat += flat[start * step:r * step]  # whole rows, each with its row-end marker
            start = r + 1
        kept_flat += flat[start * step:]
        if kept_flat and kept_flat[-1] == "\n":
            kept_flat.pop()  # the block's last row was held: the row before it ends the block now
        kept = [r for r in range(rows) if r not in suspects]
        return kept_flat, [keys[r] for r in kept] if keys else keys, [first + r for r in kept]

    def _row(self, start: int, rec: list[str], plain: bool) -> None:
        """One record through validate(): COPY text, a held row, or a rejected row."""
        validator = self.validator
        row, errors = validator.validate(rec)
        suspects = validator.suspects
        if suspects:
            validator.suspects = []  # set by a slow-path row, valid or not: not the next row's
        if errors is None:
            line = "\t".join(row) if plain else "\t".join(map(copy_escape, row))  # type: ignore[arg-type]
            text = f"{line}\t{start}\n" if self.suffix is None else line + self.end
            if suspects:
                self.held.add(start, rec, text, suspects)
                return
            self.loaded += 1
            self._emit(text)
        else:
            self.rejected += 1
            first_error = self.parse.first_error
            if first_error is None or start < first_error[0]:
                self.parse.first_error = (start, *errors[0])
            self.rejects.add(start, errors, validator.record_key(rec))

    def _lines(self, block: str) -> None:
        """The block line by line; a quoted field may continue past the block into the file."""
        lines = iter(io.StringIO(block, newline=""))
        more = chain(lines, self.text)
        for text_line in lines:
            self.line_no += 1
            start = self.line_no
            if '"' in text_line:
                rec, used = quoted_record(text_line, more, start)
                self.line_no += used - 1
                plain = False
            else:
                body = text_line.rstrip("\r\n")
                if not body or body.isspace():
                    self.blank += 1
                    continue
                rec = body.split(",")
                plain = "\\" not in body and "\t" not in body
            self._row(start, rec, plain)


def stream_rows(conn: psycopg.Connection, source: c.Source, text: IO[str], today: date,
                 rejects: Rejects, parse: Parse, direct: tuple[str, str] | None = None,
                 bulk: bool = False) -> bool:
    """Parse, validate and COPY valid rows into the stage table (with each row's line number), or
    with `direct` = (file_name, sha256) straight into raw.<source> (with `bulk`, leaving file_name
    and file_sha256 to the column defaults set by begin_bulk); raise StructuralError on a file
    fault. False, before any COPY, when the rows cannot go straight into raw: an absent column takes
    its default from the stage table."""
    try:
        header, line_no = read_header(iter(text))
    except UnicodeDecodeError:
        raise StructuralError("the file changed while it was being loaded; deliver it again") from None
    plan = plan_header(source, header)
    parse.warnings.extend(plan.warnings)
    pseudonymiser = Pseudonymiser()
    validator = RowValidator(plan, today, pseudonymiser)
    if direct is None:
        target, extra, suffix = sql.Identifier(STAGE), ["_line"], None
        own_rows = sql.SQL("select patient_key from {}").format(target)
    else:
        if any(col.default is not None and col.name not in plan.positions for col in source.columns):
            return False
        # loaded_at comes from the column default now(): the transaction's start, as in the stage path.
        target = raw_table(source)
        extra = [] if bulk else ["file_name", "file_sha256"]
        suffix = "" if bulk else "\t".join(map(copy_escape, direct))
        own_rows = sql.SQL("select patient_key from {} where file_sha256 = {} and loaded_at = now()").format(
            target, sql.Literal(direct[1]))
    if not source.person_level:
        own_rows = None
    copy_sql = sql.SQL("copy {} ({}) from stdin (format text, null '')").format(
        target, sql.SQL(", ").join(map(sql.Identifier, [*validator.stage_columns, *extra])))
    cur = conn.cursor()
    with cur.copy(copy_sql, writer=SendThread(cur)) as cp:
        stream = RowStream(cp, validator, text, line_no, suffix, rejects, parse)
        try:
            stream.run()
        except UnicodeDecodeError:
            raise StructuralError("the file changed while it was being loaded; deliver it again") from None
    loaded, rejected = stream.held.release(conn, copy_sql, validator, pseudonymiser, own_rows, rejects,
                                           parse)
    parse.blank_lines = stream.blank
    parse.rows_loaded = stream.loaded + loaded
    parse.rows_rejected = stream.rejected + rejected
    parse.rows_read = parse.rows_loaded + parse.rows_rejected
    return True




def parse_file(conn: psycopg.Connection, source: c.Source, path: Path, scan: Scan, today: date,
               rejects: Rejects, parse: Parse, direct: tuple[str, str] | None, bulk: bool = False) -> bool:
    """Stream the file's rows into COPY (stream_rows); False when they cannot go straight into raw."""
    with open(path, "rb") as f, csv_field_limit():
        text = io.TextIOWrapper(io.BufferedReader(f, CHUNK), encoding="utf-8-sig", newline="")
        streamed = stream_rows(conn, source, text, today, rejects, parse, direct, bulk)
        # The sha256 in the ledger is of the scanned bytes: a file rewritten since is not this delivery.
        st = os.fstat(f.fileno())
    if (st.st_size, st.st_mtime_ns) != (scan.size, scan.mtime_ns):
        raise StructuralError("the file changed while it was being loaded; deliver it again")
    return streamed
