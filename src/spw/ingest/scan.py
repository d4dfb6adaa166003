"""The byte scan of a delivery: sha256, size and the first fault that makes it unreadable as UTF-8 CSV
text (binary signature, undecodable byte, NUL byte, over-long line), with the line it is on."""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

CHUNK = 1 << 20
# Implementation limits beyond the contract (docs/data-contract.md §2), so that memory stays bounded
# whatever the file: a physical line of at most MAX_LINE_BYTES bytes, a field of at most
# MAX_FIELD_CHARS characters. Equal, so that a value loads quoted or not alike (Python's csv alone
# would stop quoted fields at 131072 characters); only a quoted field spanning lines can reach the
# field limit without a line reaching the line limit first.
MAX_LINE_BYTES = 1 << 20
MAX_FIELD_CHARS = MAX_LINE_BYTES
LIMITS_DOC = "an implementation limit, see the data contract"


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

