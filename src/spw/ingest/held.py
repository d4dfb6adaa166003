"""Rows held back from the COPY because an identifier-like column holds a valid NHS number run
together (contract §3). Such a value is an error only when it is the NHS number of a patient known
to the warehouse: one with a row in the same delivery, or in the register (raw.patients, which also
holds the patients file of the same landing batch, loaded first). Ten digits that merely pass the
check digit are about 1 in 11 genuine identifiers, so the others load, after the rest of the file.

Known patients are found by keyed hash (patient_key), never by sending a clear number: the
delivery's own identities are the pseudonymiser's cache (complete unless it had to be cleared; then
the rows already copied are asked), the register by its record key index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from spw.ingest import contract as c
from spw.ingest.pseudonymise import Pseudonymiser, mask_nhs
from spw.ingest.validate import RowValidator

if TYPE_CHECKING:
    from spw.ingest.copy_stream import Parse
    from spw.ingest.rejects import Rejects


@dataclass(slots=True)
class HeldRow:
    # Tuples, not lists: tuples of strings drop out of the cyclic garbage collector's sight, which
    # otherwise walks every held row again and again while a large file is read.
    line: int
    rec: tuple[str, ...]
    text: str  # the row's COPY text, as it would have been sent
    numbers: tuple[tuple[str, str], ...]  # (column, valid NHS number it holds)


@dataclass
class HeldRows:
    rows: list[HeldRow] = field(default_factory=list)

    def add(self, line: int, rec: list[str], text: str, numbers: list[tuple[str, str]]) -> None:
        self.rows.append(HeldRow(line, tuple(rec), text, tuple(numbers)))

    def known(self, conn: psycopg.Connection, pseudonymiser: Pseudonymiser,
              own_rows: sql.Composable | None) -> set[str]:
        """The held NHS numbers that are a known patient's. `own_rows`: a query of the patient_key
        of the delivery's rows already copied (asked only when the cache is incomplete)."""
        numbers = {n for row in self.rows for _, n in row.numbers}
        known = {n for n in numbers if n in pseudonymiser.nhs_cache}
        keys = {pseudonymiser.key_of(n): n for n in numbers - known}
        if keys:
            found = conn.execute("select patient_key from raw.patients where patient_key = any(%s)",
                                 (list(keys),)).fetchall()
            if pseudonymiser.nhs_cache_cleared and own_rows is not None:
                found += conn.execute(sql.SQL("select patient_key from ({}) as own where patient_key = any(%s)")
                                      .format(own_rows), (list(keys),)).fetchall()
            known.update(keys[k] for (k,) in found)
        return known

    def release(self, conn: psycopg.Connection, copy_sql: sql.Composable, validator: RowValidator,
                pseudonymiser: Pseudonymiser, own_rows: sql.Composable | None, rejects: Rejects,
                parse: Parse) -> tuple[int, int]:
        """Reject the held rows that hold a known patient's NHS number (parse.first_error kept the
        first by line), COPY the others; returns (loaded, rejected)."""
        if not self.rows:
            return 0, 0
        known = self.known(conn, pseudonymiser, own_rows)
        loaded = rejected = 0
        positions = validator.plan.positions
        out: list[str] = []
        with conn.cursor().copy(copy_sql) as cp:
            for row in self.rows:
                hits = sorted({col for col, n in row.numbers if n in known}, key=positions.__getitem__)
                if not hits:
                    out.append(row.text)
                    loaded += 1
                    if len(out) >= 4096:  # COPY data in pieces, not a call per row
                        cp.write("".join(out))
                        out.clear()
                    continue
                values = [row.rec[positions[col]] for col in hits]
                errors = [(col, c.RULE_NHS_IN_TEXT, mask_nhs(v)) for col, v in zip(hits, values, strict=True)]
                rejects.add(row.line, errors, validator.record_key(list(row.rec), frozenset(values)))
                rejected += 1
                if parse.first_error is None or row.line < parse.first_error[0]:
                    parse.first_error = (row.line, *errors[0])
            if out:
                cp.write("".join(out))
        self.rows.clear()
        return loaded, rejected
