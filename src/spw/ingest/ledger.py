"""The load ledger: one audit.file_loads row per attempt at a file, and the outcome it records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from spw.ingest import contract as c
from spw.ingest.pseudonymise import mask_nhs


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


def already_loaded(conn: psycopg.Connection, sha256: str) -> bool:
    row = conn.execute("select 1 from audit.file_loads where sha256 = %s and status = 'loaded' limit 1",
                       (sha256,)).fetchone()
    return row is not None


def write_ledger(conn: psycopg.Connection, r: LoadResult) -> None:
    cols = c.LEDGER.file_loads
    values = (r.source, r.file_name, r.sha256, r.bytes, r.rows_read, r.rows_loaded, r.rows_rejected, r.status,
              mask_nhs(r.reason), mask_nhs("; ".join(r.warnings)) or None, r.started_at, r.finished_at, r.run_id)
    conn.execute(sql.SQL("insert into audit.file_loads ({}) values ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join(sql.Placeholder() * len(cols))), values)


def now() -> datetime:
    return datetime.now(UTC)


