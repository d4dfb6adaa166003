"""Streaming validation of one delivery against the contract: header plan, then row by row.

Everything here is per-file set-up (compiled regexes, code sets, a set of every valid date string
up to the load date) so that the per-row work is a few set look-ups and no allocations beyond the
output row. A row's errors come back as (column, rule, masked value) tuples.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from operator import contains, eq, itemgetter

import numpy as np

from spw.ingest import contract as c
from spw.ingest.pseudonymise import (
    DIGIT_RUNS,
    NHS_PLAIN_LIKE,
    NHS_SPLIT_LIKE,
    Pseudonymiser,
    contains_nhs_number,
    has_split_nhs_number,
    mask_identity_value,
    mask_nhs,
    nhs_number_error,
    nhs_numbers_in,
)

RowError = tuple[str | None, str, str | None]  # column, rule, masked value
Check = Callable[[str], str | None]  # value -> rule broken, or None

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_PSEUDO = re.compile(c.PSEUDO_PATTERN)
# Ranges of at most this many integers are checked by set look-up of their canonical strings.
_SMALL_RANGE = 10_000
# Significant digits of the largest PostgreSQL integer: more can only be out of range (and int() of
# a string over 4300 digits raises, so such a value must never reach it).
_INT4_DIGITS = len(str(c.INT4_MAX))


class StructuralError(Exception):
    """A fault that rejects the whole file; the message is the reason shown to the user."""


def normalise_header(name: str) -> str:
    return name.strip().lower()


@dataclass
class HeaderPlan:
    """Where each contract column sits in the file's rows."""

    source: c.Source
    n_fields: int
    positions: dict[str, int]  # contract column -> field index (absent optional columns missing)
    identity: str | None  # nhs_number | pseudo_nhs_number | None (not person-level)
    identity_index: int | None
    warnings: list[str] = field(default_factory=list)


def plan_header(source: c.Source, header: Sequence[str]) -> HeaderPlan:
    """Match the header to the contract; raise StructuralError for a fault that rejects the file."""
    names = [normalise_header(h) for h in header]
    accepted = source.accepted_columns
    if not any(n in accepted for n in names):
        raise StructuralError(
            f"no header row: line 1 names none of the columns of {source.name} "
            f"(expected e.g. {', '.join(source.column_names[:3])}){_separator_hint(names, accepted)}"
        )
    seen: dict[str, int] = {}
    extras: list[str] = []
    for i, n in enumerate(names):
        if n in accepted:
            if n in seen:
                raise StructuralError(f"column {n} appears twice in the header (fields {seen[n] + 1} and {i + 1})")
            seen[n] = i
        else:
            extras.append(n if n else f"<unnamed field {i + 1}>")
    missing = [col.name for col in source.columns if col.required and col.name not in seen]
    if missing:
        raise StructuralError(f"missing required column(s): {', '.join(missing)} (header is line 1)")
    identity, identity_index = None, None
    if source.person_level:
        present = [n for n in c.IDENTITY_COLUMNS if n in seen]
        if len(present) != 1:
            what = "both" if present else "neither"
            raise StructuralError(
                f"the header has {what} of the identity columns nhs_number and pseudo_nhs_number: "
                f"a {source.name} file must carry exactly one"
            )
        identity, identity_index = present[0], seen[present[0]]
    warnings = [f"ignored unknown column(s): {', '.join(extras)}"] if extras else []
    positions = {n: i for n, i in seen.items() if n not in c.IDENTITY_COLUMNS}
    return HeaderPlan(source, len(names), positions, identity, identity_index, warnings)


_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _separator_hint(names: list[str], accepted: frozenset[str]) -> str:
    """Why a header matched nothing, when it is the contract's header with another separator."""
    for sep, what in _OTHER_SEPARATORS.items():
        if any(normalise_header(part) in accepted for name in names for part in name.split(sep)[1:]):
            return f"; its names are separated by {what}: the contract's separator is a comma"
    return ""


@lru_cache(maxsize=4)
def valid_dates(today: date) -> frozenset[str]:
    """Every ISO date string from MIN_DATE to the load date: format, calendar and range in one look-up."""
    d, out = date.fromisoformat(c.MIN_DATE), []
    step = timedelta(days=1)
    while d <= today:
        out.append(d.isoformat())
        d += step
    return frozenset(out)


def _date_check(today: date, first_of_month: bool) -> Check:
    ok = valid_dates(today)

    def check(v: str) -> str | None:
        if v in ok:
            return c.RULE_FIRST_OF_MONTH if first_of_month and v[8:] != "01" else None
        if not _ISO_DATE.fullmatch(v):
            return c.RULE_DATE_FORMAT
        try:
            date.fromisoformat(v)
        except ValueError:
            return c.RULE_DATE_FORMAT
        return c.RULE_DATE_RANGE

    return check


def _bounds(col: c.Column, today: date, default_max: float | None) -> tuple[float | None, float | None]:
    hi = today.year if col.max == c.LOAD_YEAR else col.max
    if hi is None:
        hi = default_max
    return col.min, hi  # type: ignore[return-value]


def _int_check(col: c.Column, today: date) -> Check:
    lo, hi = _bounds(col, today, c.INT4_MAX)
    low = -c.INT4_MAX - 1 if lo is None else int(lo)
    high = int(hi)  # type: ignore[arg-type]
    fast = frozenset(str(i) for i in range(low, high + 1)) if high - low <= _SMALL_RANGE else frozenset()

    def check(v: str) -> str | None:
        if v in fast:
            return None
        if not _INT.fullmatch(v):
            return c.RULE_INT_FORMAT
        digits = v.lstrip("+-").lstrip("0")
        if len(digits) > _INT4_DIGITS:
            return c.RULE_RANGE
        # Leading zeros are valid (PostgreSQL reads them too) but count towards int()'s digit limit.
        n = -int(digits or "0") if v[0] == "-" else int(digits or "0")
        return None if low <= n <= high else c.RULE_RANGE

    return check


def _decimal_check(col: c.Column, today: date) -> Check:
    lo, hi = _bounds(col, today, None)

    def check(v: str) -> str | None:
        if not _DECIMAL.fullmatch(v):
            return c.RULE_DECIMAL_FORMAT
        whole, _, fraction = v.lstrip("+-").partition(".")
        # What a PostgreSQL numeric column cannot hold would fail the whole COPY, not just this row.
        if len(fraction) > c.NUMERIC_MAX_FRACTION_DIGITS:
            return c.RULE_DECIMAL_FORMAT
        if len(whole.lstrip("0")) > c.NUMERIC_MAX_WHOLE_DIGITS:
            return c.RULE_RANGE
        return None if decimal_within(v, lo, hi) else c.RULE_RANGE

    return check


def decimal_within(v: str, lo: float | None, hi: float | None) -> bool:
    """lo <= v <= hi, exactly, for a decimal string v (bounds None = unbounded).

    float(v) is the double nearest to v, and rounding is monotonic, so a float strictly inside or
    outside the bounds (doubles themselves) decides exactly; only a float equal to a bound needs the
    exact comparison: 35.00000000000000001 rounds to 35.0 but is above 35.
    """
    x = float(v)
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        return False
    if x in (lo, hi):
        d = Decimal(v)
        return (lo is None or d >= Decimal(lo)) and (hi is None or d <= Decimal(hi))
    return True


def _text_check(col: c.Column) -> Check | None:
    if col.codes is not None:
        codes = col.codes
        return lambda v: None if v in codes else c.RULE_CODE_SET
    if col.list_codes is not None:
        items = col.list_codes
        return lambda v: None if all(x in items for x in v.split(";")) else c.RULE_CODE_SET
    if col.pattern is not None:
        rx = re.compile(col.pattern)
        return lambda v: None if rx.fullmatch(v) else c.RULE_PATTERN
    if col.free_text:
        return lambda v: c.RULE_NHS_IN_TEXT if contains_nhs_number(v) else None
    return None


def scanned_for_nhs_numbers(col: c.Column) -> bool:
    """An identifier-like column: text that is not free text, not a code, and whose pattern (if any)
    lets it hold ten digits. Its values are scanned for NHS numbers (RowValidator)."""
    if col.type != "text" or col.free_text or col.codes is not None or col.list_codes is not None:
        return False
    return col.pattern is None or re.fullmatch(col.pattern, "9434765919") is not None


# Weights of the modulus-11 test on all ten digits: a number is valid exactly when the weighted sum
# is a multiple of 11 (the check digit weighs 1; a check value of 10 can never match a digit). On
# the ASCII codes the sum is off by 48 times the sum of the weights.
_MOD11_WEIGHTS = np.arange(10, 0, -1, dtype=np.int64)
_MOD11_OFFSET = 48 * 55
# The separators of a written NHS number (pseudonymise._SEP) within ASCII: white space, / _ . -.
# Text in ASCII without any of them holds no NHS number written out (a substring search is quicker
# than the pattern).
_ASCII_SEPARATORS = tuple(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f/_.-")
_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")
_TEN_DIGITS = "0" * 10


def valid_plain_numbers(candidates: list[str]) -> list[str]:
    """The candidates (ten ASCII digits each) that are valid NHS numbers, checked all at once."""
    codes = np.frombuffer("".join(candidates).encode("ascii"), dtype=np.uint8).reshape(-1, 10)
    passing = np.flatnonzero((codes @ _MOD11_WEIGHTS - _MOD11_OFFSET) % 11 == 0)
    return [n for n in (candidates[i] for i in passing) if n != n[0] * 10]


def column_check(col: c.Column, today: date) -> Check | None:
    if col.type == "date":
        return _date_check(today, col.first_of_month)
    if col.type == "int":
        return _int_check(col, today)
    if col.type == "decimal":
        return _decimal_check(col, today)
    return _text_check(col)


class RowValidator:
    """Turns a parsed CSV record into a stage row (identity pseudonymised) or a list of row errors.

    Fast path: every checked field is looked up in a per-column set of values already known to be
    valid (static sets for codes, dates and small integer ranges; values remembered from earlier
    rows for patterns, lists and numbers; the HMAC cache for identities), all in C via map/all.
    A miss falls back to the full per-column check, which also names the rule a bad value breaks.
    """

    def __init__(self, plan: HeaderPlan, today: date, pseudonymiser: Pseudonymiser) -> None:
        src = plan.source
        self.plan = plan
        self.n_fields = plan.n_fields
        present = [col for col in src.columns if col.name in plan.positions]
        # Stage/COPY column order: the file's, with patient_key where the identity column is. A file
        # without unknown columns then goes to COPY field for field (see validate_block).
        fields = sorted([(plan.positions[col.name], col.name) for col in present] + (
            [(plan.identity_index, c.PATIENT_KEY)] if src.person_level else []))
        self.stage_columns = [name for _, name in fields]
        self.stage_fields = [i for i, _ in fields]  # the file field of each stage column
        self.whole_rows = len(fields) == plan.n_fields
        self._key_pos = self.stage_columns.index(c.PATIENT_KEY) if src.person_level else None
        # Slow path output (identity first, then the contract's order) -> stage order.
        slow_order = ([plan.identity_index] if src.person_level else []) + [plan.positions[col.name]
                                                                            for col in present]
        self._slow_perm = [slow_order.index(i) for i in self.stage_fields]
        self.identity_index = plan.identity_index
        self.identity = plan.identity
        self._token = pseudonymiser.token
        self._nhs_mode = plan.identity == c.NHS_NUMBER
        if self._nhs_mode:
            self.hmac, self._key_cache = pseudonymiser.nhs_number, pseudonymiser.nhs_cache
        else:
            self.hmac, self._key_cache = pseudonymiser.pseudonym, pseudonymiser.pseudo_cache
        # Slow path: (field index, name, required, check, default) of every present column.
        self.checks = [(plan.positions[col.name], col.name, col.required, column_check(col, today), col.default)
                       for col in present]
        # Identifier-like columns scanned for NHS numbers; a row holding a valid one run together (not
        # its own) is a suspect: held back until the delivery's patients are known (copy_stream).
        self._scan = [(plan.positions[col.name], col.name) for col in present if scanned_for_nhs_numbers(col)]
        self._scan_idx = [idx for idx, _ in self._scan]
        self._scan_get = _getter(self._scan_idx) if self._scan else None
        self.suspects: list[tuple[str, str]] = []  # (column, NHS number) of the last slow-path row
        # Rows of the last block accepted by validate_block that hold suspects: row -> (column, number).
        self.block_suspects: dict[int, list[tuple[str, str]]] = {}
        self._build_fast_path(present, today)
        # (file field or None when absent, required, check, default) of each record key part but
        # the patient_key, in key order; the patient_key part is None.
        by_name = {name: (idx, required, check, default) for idx, name, required, check, default in self.checks}
        self._key_parts = [None if k == c.PATIENT_KEY else by_name.get(k, (None, False, None, src.column(k).default))
                           for k in src.key]
        pos = plan.positions
        self.order = [(pos[r.later], pos[r.earlier], r.later, r.earlier)
                      for r in src.order_rules if r.later in pos and r.earlier in pos]
        self.dependent_codes = [(pos[r.column], pos[r.on], r.column, r.on, r.codes)
                                for r in src.dependent_codes if r.column in pos and r.on in pos]
        self.dependent_ranges = [(pos[r.column], pos[r.on], r.column, r.on, r.ranges)
                                 for r in src.dependent_ranges if r.column in pos and r.on in pos]
        self.has_row_rules = bool(self.order or self.dependent_codes or self.dependent_ranges)
        self.block_ok = not self.has_row_rules and self.n_fields > 1

    def _build_fast_path(self, present: list[c.Column], today: date) -> None:
        memo_idx: list[int] = []
        memos: list[set[str] | frozenset[str] | dict[str, str]] = []
        self._growable: list[tuple[int, set[str]]] = []
        required_plain: list[int] = []
        for col in present:
            idx = self.plan.positions[col.name]
            memo = _static_memo(col, today)
            if memo is None and (col.pattern or col.list_codes or col.free_text or col.type in ("int", "decimal")):
                memo = set() if col.required or col.default is not None else {""}
                self._growable.append((idx, memo))
            if memo is None:
                if col.required:
                    required_plain.append(idx)
                continue
            memo_idx.append(idx)
            memos.append(memo)
        self._memos = memos
        self._memo_get = _getter(memo_idx)
        self._required_get = _getter(required_plain) if required_plain else None
        self._row_get = _getter(self.stage_fields)
        self._build_block_path(memo_idx, memos, required_plain)

    def _build_block_path(self, memo_idx: list[int], memos: list[set[str] | frozenset[str] | dict[str, str]],
                          required_plain: list[int]) -> None:
        """Per-column plan of validate_block: the same memos and checks, applied to whole columns."""
        check_of = {idx: check for idx, _, _, check, _ in self.checks}
        self._block_static = [(i, m) for i, m in zip(memo_idx, memos, strict=True) if isinstance(m, frozenset)]
        self._block_learn = [(i, m, check_of[i]) for i, m in self._growable]
        self._block_required = required_plain
        self._data_idx = [i for i, *_ in self.checks]
        # Columns that may hold the row's (valid) NHS number: a static set of valid values without
        # one cannot, every other column can.
        static = dict(self._block_static)
        clear = [i for i in self._data_idx if i not in static or any(map(_nhs_like, static[i]))]
        # A column with a memo of valid values (all of a block's values are in it once learnt) can
        # hold the row's NHS number only once a valid NHS number is in the memo: compared only then.
        learnt = {i for i, _ in self._growable}
        self._clear_fixed = [i for i in clear if i not in learnt]
        self._clear_learnt = [i for i in clear if i in learnt]
        self._memo_has_nhs: set[int] = set()

    def validate_block(self, flat: list[str], step: int) -> list[str] | None:
        """The patient_key of each row (an empty list for a source without identity) of a block of
        rows that all have n_fields fields, given as one flat list (row r's field f at r * step + f);
        None when any row needs validate(). The rows' other stage values are their fields as they
        are (block_columns).

        The same per-column sets as validate(), each checked on a whole column at once in C; a value
        not seen before is checked once per block, not once per row. Any row that validate() would
        reject, or whose output it would change (a default filled in), sends the whole block back to
        the row-by-row path, which then reports it exactly as before.
        """
        if not self.block_ok:
            return None
        for idx, static in self._block_static:
            if not static.issuperset(flat[idx::step]):
                return None
        for idx, memo, check in self._block_learn:
            values = flat[idx::step]
            if not memo.issuperset(values) and not self._learn(idx, memo, values, check):
                return None
        for idx in self._block_required:
            if "" in flat[idx::step]:
                return None
        self.block_suspects = {}
        if self._scan_idx and not self._scan_block(flat, step):
            return None
        if self.identity_index is None:
            return []
        ids = flat[self.identity_index::step]
        # validate() sends a row holding its NHS number in another field to the slow path.
        if self._nhs_mode:
            clear = self._clear_fixed + [i for i in self._clear_learnt if i in self._memo_has_nhs]
            if any(any(map(eq, ids, flat[i::step])) for i in clear):
                return None
        return self._block_keys(ids)

    def _scan_block(self, flat: list[str], step: int) -> bool:
        """Scan the block's identifier-like columns; False when a row needs validate() (a value not in
        ASCII, a valid NHS number written out, or the row's own run together). Rows holding another
        valid NHS number run together go to block_suspects."""
        suspects: dict[int, list[tuple[str, str]]] = {}
        ids = flat[self.identity_index::step] if self._nhs_mode else None
        for idx, name in self._scan:
            values = flat[idx::step]
            joined = "\0".join(values)  # NUL: not in a loaded file, and not a separator
            if not joined.isascii() or (any(map(joined.__contains__, _ASCII_SEPARATORS))
                                        and NHS_SPLIT_LIKE.search(joined) and has_split_nhs_number(joined)):
                return False
            if _TEN_DIGITS not in joined.translate(_DIGITS_AS_ZERO):
                continue  # no run of ten digits: the common case, found quicker than by the pattern
            candidates = [run for run in DIGIT_RUNS.findall(joined) if len(run) == 10]
            if not candidates:
                continue
            # Values all of one length (the usual identifier) give a match's row by division.
            width = len(values[0]) + 1 if len(set(map(len, values))) == 1 else 0
            for number in valid_plain_numbers(candidates):
                at = joined.find(number)
                while at >= 0:
                    row = at // width if width else joined.count("\0", 0, at)
                    if ids is not None and ids[row] == number:
                        return False
                    suspects.setdefault(row, []).append((name, number))
                    at = joined.find(number, at + 10)
        self.block_suspects = suspects
        return True

    def _learn(self, idx: int, memo: set[str], values: list[str], check: Check) -> bool:
        """Check each value of a column not yet in its memo once; remember the valid ones (bounded).
        False when any is invalid, or empty where validate() would report or fill it in."""
        for v in set(values).difference(memo):
            if not v or check(v) is not None:
                return False
            self._remember(idx, memo, v)
        return True

    def _remember(self, idx: int, memo: set[str], v: str) -> None:
        if len(memo) < _MEMO_MAX:
            memo.add(v)
            if _nhs_like(v):
                self._memo_has_nhs.add(idx)

    def block_columns(self, flat: list[str], step: int, keys: list[str]) -> list[list[str]]:
        """Stage columns of a block that validate_block accepted, in stage order."""
        ident = self.identity_index
        return [keys if i == ident else flat[i::step] for i in self.stage_fields]

    def _block_keys(self, ids: list[str]) -> list[str] | None:
        """patient_key of each identity, or None if any identity is invalid."""
        keys = list(map(self._key_cache.get, ids))
        if all(keys):
            return keys  # type: ignore[return-value]
        for v in set(ids).difference(self._key_cache):
            if self._identity_error(v) is not None:
                return None
            self.hmac(v)
        keys = list(map(self._key_cache.get, ids))
        # Every identity is now known valid, but the bounded cache may have been cleared meanwhile.
        return keys if all(keys) else list(map(self.hmac, ids))  # type: ignore[return-value]

    def validate(self, rec: list[str]) -> tuple[list[str] | None, list[RowError] | None]:
        """(stage row without line number, None) when valid, else (None, errors)."""
        if len(rec) == self.n_fields and all(map(contains, self._memos, self._memo_get(rec))) and (
                self._required_get is None or all(self._required_get(rec))):
            errors = self._row_rules(rec, None, ()) if self.has_row_rules else None
            if errors is None:
                if self._scan_get is not None and any(map(_nhs_like_search, self._scan_get(rec))):
                    return self._validate_slow(rec)
                i = self.identity_index
                if i is None:
                    return [*self._row_get(rec)], None
                # The row's NHS number anywhere else in the row (e.g. used as an identifier) would
                # reach the database in clear: the slow path names that column.
                if self._nhs_mode and rec.count(rec[i]) > 1:
                    return self._validate_slow(rec)
                # Identities repeat: a cached key means the value was validated before.
                key = self._key_cache.get(rec[i])
                if key is None:
                    if self._identity_error(rec[i]) is not None:
                        return self._validate_slow(rec)
                    key = self.hmac(rec[i])
                row = [*self._row_get(rec)]
                row[self._key_pos] = key  # type: ignore[index]
                return row, None
            return None, errors
        return self._validate_slow(rec)

    def _validate_slow(self, rec: list[str]) -> tuple[list[str | None] | None, list[RowError] | None]:
        if len(rec) != self.n_fields:
            return None, [(None, c.RULE_FIELD_COUNT, f"{len(rec)} fields, header has {self.n_fields}")]
        errors: list[RowError] = []
        out: list[str | None] = []
        if self.identity_index is not None:
            ident = rec[self.identity_index]
            rule = self._identity_error(ident)
            if rule is None:
                out.append(self.hmac(ident))
            else:
                shown = mask_identity_value(ident) if self.identity == c.NHS_NUMBER else mask_nhs(ident)
                errors.append((self.identity, rule, shown or None))  # type: ignore[arg-type]
        clear = rec[self.identity_index] if self._nhs_mode else None
        suspects: list[tuple[str, str]] = []
        for idx, name in self._scan:
            for number, written_out in nhs_numbers_in(rec[idx]):
                if written_out or number == clear:
                    errors.append((name, c.RULE_NHS_IN_TEXT, mask_nhs(rec[idx])))
                    break
                suspects.append((name, number))
        self.suspects = suspects
        flagged = {e[0] for e in errors}
        for idx, name, required, check, default in self.checks:
            v = rec[idx]
            if name in flagged:
                out.append(v)
                continue
            if v and v == clear:
                errors.append((name, c.RULE_NHS_IN_TEXT, mask_nhs(v)))
                out.append(v)
                continue
            if not v:
                if default is None and required:
                    errors.append((name, c.RULE_REQUIRED, None))
                out.append(v if default is None else default)  # "" is NULL in the COPY (csv) stream
                continue
            if check is not None:
                rule = check(v)
                if rule is not None:
                    errors.append((name, rule, mask_nhs(v)))
            out.append(v)
        if self.has_row_rules:
            bad = {e[0] for e in errors}
            more = self._row_rules(rec, None, bad)
            if more:
                errors.extend(more)
        if errors:
            return None, errors
        for idx, memo in self._growable:
            self._remember(idx, memo, rec[idx])
        return [out[k] for k in self._slow_perm], None

    def record_key(self, rec: list[str], hide: frozenset[str] = frozenset()) -> tuple[list[str | None], bool] | None:
        """The record key of a row validate() rejected, as raw.<source> would hold it, in text (a
        default filled in, empty = None, the identity as its patient_key), and whether every part
        is a value a valid row could hold (only then can the key equal a loaded row's). None when the
        key cannot be read: wrong number of fields, or a required part empty.

        Called for rejected rows only: no cost on valid rows. A value that must not reach the
        database in clear (an invalid identity, the row's own NHS number as a key value) becomes a
        keyed hash: it still matches the same value on another rejected row. So does a value in
        `hide` (an identifier holding another patient's NHS number).
        """
        if len(rec) != self.n_fields:
            return None
        clear = rec[self.identity_index] if self._nhs_mode else None  # type: ignore[index]
        values: list[str | None] = []
        ok = True
        for part in self._key_parts:
            if part is None:
                ident = rec[self.identity_index]  # type: ignore[index]
                if not ident:
                    return None
                valid = self._identity_error(ident) is None
                values.append(self.hmac(ident) if valid else self._token(ident))
                ok = ok and valid
                continue
            idx, required, check, default = part
            v = rec[idx] if idx is not None else ""
            if not v:
                if required and default is None:
                    return None
                values.append(default)
            elif v == clear or v in hide:
                values.append(self._token(v))
                ok = False
            else:
                values.append(v)
                ok = ok and (check is None or check(v) is None)
        return values, ok

    def _identity_error(self, v: str) -> str | None:
        if not v:
            return c.RULE_REQUIRED
        if self.identity == c.NHS_NUMBER:
            return nhs_number_error(v)
        return None if _PSEUDO.fullmatch(v) else c.RULE_PSEUDO_FORMAT

    def _row_rules(self, rec: list[str], errors: list[RowError] | None,
                   bad: set[str | None] | tuple[()]) -> list[RowError] | None:
        """Rules across columns, on values that are individually valid (names in `bad` are skipped)."""
        for later_i, earlier_i, later, earlier in self.order:
            lv, ev = rec[later_i], rec[earlier_i]
            # ISO dates compare correctly as strings.
            if lv and ev and later not in bad and earlier not in bad and lv < ev:
                errors = errors or []
                errors.append((later, c.RULE_ORDER, f"{later} {lv} is before {earlier} {ev}"))
        for i, on_i, name, on, codes in self.dependent_codes:
            v, on_v = rec[i], rec[on_i]
            if v and on_v in codes and name not in bad and v not in codes[on_v]:
                errors = errors or []
                errors.append((name, c.RULE_DEPENDENT_CODE, f"{mask_nhs(v)} (not an item of {on} {on_v})"))
        for i, on_i, name, on, ranges in self.dependent_ranges:
            v, on_v = rec[i], rec[on_i]
            if v and on_v in ranges and name not in bad:
                lo, hi = ranges[on_v]
                if not decimal_within(v, lo, hi):
                    errors = errors or []
                    errors.append((name, c.RULE_DEPENDENT_RANGE,
                                   f"{mask_nhs(v)} (outside {lo:g} to {hi:g} for {on} {on_v})"))
        return errors


_MEMO_MAX = 50_000  # remembered valid values per column (bounded memory)


def _nhs_like_search(v: str) -> bool:
    """Whether a value may hold a valid NHS number in some written form (nhs_numbers_in decides)."""
    if not v.isascii() or NHS_SPLIT_LIKE.search(v):
        return True
    return any(nhs_number_error(x) is None for x in NHS_PLAIN_LIKE.findall(v))


def _nhs_like(v: str) -> bool:
    """A valid NHS number (the only kind a row's identity can be)."""
    return len(v) == 10 and v.isdigit() and nhs_number_error(v) is None


def _getter(indexes: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """itemgetter that always returns a tuple (itemgetter of one index returns the bare item)."""
    if len(indexes) == 1:
        i = indexes[0]
        return lambda rec: (rec[i],)
    if not indexes:
        return lambda rec: ()
    return itemgetter(*indexes)


def _static_memo(col: c.Column, today: date) -> frozenset[str] | None:
    """Every valid value of a column whose valid values are a small known set (else None)."""
    optional = "" if not col.required and col.default is None else None
    extra = frozenset({optional}) if optional is not None else frozenset()
    if col.type == "date":
        dates = valid_dates(today)
        if col.first_of_month:
            dates = frozenset(d for d in dates if d.endswith("-01"))
        return dates | extra
    if col.type == "text" and col.codes is not None:
        return col.codes | extra
    if col.type == "int":
        lo, hi = _bounds(col, today, c.INT4_MAX)
        if lo is not None and hi is not None and hi - lo <= _SMALL_RANGE:
            return frozenset(str(i) for i in range(int(lo), int(hi) + 1)) | extra
    return None
