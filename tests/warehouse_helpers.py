"""Helpers for warehouse tests: an empty warehouse, a landing folder loaded by the real loader, queries."""

from __future__ import annotations

from pathlib import Path

SOURCES = (
    "practices", "link_worker_workforce", "patients", "sp_referrals", "sp_wellbeing",
    "gp_appointments", "ae_attendances", "inpatient_admissions",
)


def recreate_warehouse() -> None:
    """Empty warehouse database with roles and schemas (as the `fresh_warehouse` fixture does)."""
    from spw import db

    with db.connect("postgres", autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = 'warehouse' "
                     "and pid <> pg_backend_pid()")
        conn.execute("drop database if exists warehouse")
        conn.execute("create database warehouse")
    db.bootstrap()


def load_folder(landing: Path) -> None:
    """Load every delivery of every source with the project's loader (spw.ingest)."""
    from spw.ingest import loader

    for source in SOURCES:
        loader.load_source(None, landing, source)


def query(sql: str, params: tuple | dict | None = None) -> list[dict]:
    """Rows of a query on the warehouse as dicts (admin connection: tests read every schema)."""
    from psycopg.rows import dict_row

    from spw import db

    with db.connect("warehouse") as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())
