"""Helpers for warehouse tests: land a synthetic folder, load it, run dbt, read marts.

The loader (`spw.ingest`) is written in parallel; until it exists, `load_folder` falls back to a
minimal COPY-based loader that follows docs/developer-notes.md (contract columns, identity ->
patient_key, load metadata). The real loader is used as soon as it can be imported.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
from datetime import UTC, datetime
from pathlib import Path

SOURCES = (
    "practices", "link_worker_workforce", "patients", "sp_referrals", "sp_wellbeing",
    "gp_appointments", "ae_attendances", "inpatient_admissions",
)

# Contract columns and their raw types (data contract §5); identity replaced by patient_key.
RAW_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "practices": [
        ("practice_code", "text"), ("practice_name", "text"), ("pcn_code", "text"), ("pcn_name", "text"),
        ("sub_icb_code", "text"), ("sub_icb_name", "text"), ("icb_code", "text"), ("icb_name", "text"),
        ("region_code", "text"), ("region_name", "text"), ("list_size", "integer"),
        ("effective_from", "date"), ("effective_to", "date"),
    ],
    "link_worker_workforce": [
        ("pcn_code", "text"), ("month", "date"), ("wte", "numeric"), ("headcount", "integer"),
        ("funding", "text"),
    ],
    "patients": [
        ("patient_key", "text"), ("practice_code", "text"), ("year_of_birth", "integer"), ("sex", "text"),
        ("ethnic_category", "text"), ("lsoa_code", "text"), ("imd_decile", "integer"),
        ("ltc_count", "integer"), ("registration_start_date", "date"), ("registration_end_date", "date"),
        ("date_of_death", "date"),
    ],
    "sp_referrals": [
        ("referral_id", "text"), ("patient_key", "text"), ("referral_date", "date"),
        ("referral_source", "text"), ("referring_practice_code", "text"), ("pcn_code", "text"),
        ("link_worker_id", "text"), ("referral_reasons", "text"), ("outcome", "text"),
        ("first_contact_date", "date"), ("discharge_date", "date"), ("contacts_count", "integer"),
        ("activities", "text"),
    ],
    "sp_wellbeing": [
        ("assessment_id", "text"), ("referral_id", "text"), ("assessment_date", "date"),
        ("assessment_type", "text"), ("instrument", "text"), ("item", "text"), ("score", "numeric"),
    ],
    "gp_appointments": [
        ("appointment_id", "text"), ("patient_key", "text"), ("practice_code", "text"),
        ("appointment_date", "date"), ("appt_status", "text"), ("hcp_type", "text"), ("appt_mode", "text"),
        ("national_category", "text"), ("time_between_book_and_appt", "text"),
    ],
    "ae_attendances": [
        ("ec_ident", "text"), ("patient_key", "text"), ("provider_code", "text"), ("arrival_date", "date"),
        ("ec_department_type", "text"), ("discharge_destination_snomed", "text"),
    ],
    "inpatient_admissions": [
        ("spell_id", "text"), ("patient_key", "text"), ("provider_code", "text"),
        ("admission_date", "date"), ("discharge_date", "date"), ("admission_method", "text"),
    ],
}
IDENTITY = ("nhs_number", "pseudo_nhs_number")


def patient_key(identity_column: str, value: str) -> str:
    """Same pseudonym as the loader would give, so tests can link CSV rows to warehouse rows."""
    try:
        from spw.ingest.pseudonymise import patient_key as loader_patient_key
    except ImportError:
        pass
    else:
        return loader_patient_key(value, pseudonymous=identity_column == "pseudo_nhs_number")
    key = os.environ["SPW_PSEUDO_KEY"].encode()
    msg = ("pseudo:" + value) if identity_column == "pseudo_nhs_number" else value
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def _ensure_raw_tables(conn) -> None:
    for source, cols in RAW_COLUMNS.items():
        coldefs = ", ".join(f"{c} {t}" for c, t in cols)
        conn.execute(
            f"create table if not exists raw.{source} ({coldefs}, file_name text, file_sha256 text, "
            "loaded_at timestamptz)"
        )


def ensure_schema() -> None:
    """Create the raw tables: the loader's own DDL when present, else the documented layout."""
    from spw import db

    with db.connect("warehouse", "spw_loader", autocommit=True) as conn:
        try:
            from spw.ingest.schema import ensure_schema as real_ensure

            real_ensure(conn)
        except ImportError:
            _ensure_raw_tables(conn)


def _fallback_load(landing: Path) -> None:
    """Minimal loader for tests while spw.ingest is not there: latest file (lexical order) wins."""
    from spw import db

    ensure_schema()
    loaded_at = datetime.now(UTC)
    with db.connect("warehouse", "spw_loader", autocommit=False) as conn:
        for source in SOURCES:
            cols = [c for c, _ in RAW_COLUMNS[source]]
            conn.execute(f"truncate raw.{source}")
            rows: dict[tuple, list] = {}
            for path in sorted((landing / source).glob("*.csv")):
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
                with path.open(newline="", encoding="utf-8-sig") as fh:
                    for rec in csv.DictReader(fh):
                        rec = {k.strip().lower(): v for k, v in rec.items()}
                        for ident in IDENTITY:
                            if rec.get(ident):
                                rec["patient_key"] = patient_key(ident, rec[ident])
                        if source == "link_worker_workforce" and not rec.get("funding"):
                            rec["funding"] = "ARRS"
                        values = [rec.get(c) or None for c in cols]
                        rows[_record_key(source, rec)] = [*values, path.name, sha, loaded_at]
            with conn.cursor().copy(
                f"copy raw.{source} ({', '.join(cols)}, file_name, file_sha256, loaded_at) from stdin"
            ) as copy:
                for values in rows.values():
                    copy.write_row(values)
        conn.commit()


KEYS = {
    "practices": ("practice_code", "effective_from"),
    "link_worker_workforce": ("pcn_code", "month", "funding"),
    "patients": ("patient_key",),
    "sp_referrals": ("referral_id",),
    "sp_wellbeing": ("assessment_id",),
    "gp_appointments": ("appointment_id",),
    "ae_attendances": ("ec_ident",),
    "inpatient_admissions": ("spell_id",),
}


def _record_key(source: str, rec: dict[str, str]) -> tuple:
    return tuple(rec.get(k) or "" for k in KEYS[source])


def load_folder(landing: Path) -> str:
    """Load every source of a landing folder; returns which loader was used."""
    try:
        from spw.ingest import loader
    except ImportError:
        _fallback_load(landing)
        return "fallback"
    for source in SOURCES:
        loader.load_source(None, landing, source)
    return "spw.ingest"


def recreate_warehouse() -> None:
    """Empty warehouse database with roles and schemas (as the `fresh_warehouse` fixture does)."""
    from spw import db

    with db.connect("postgres", autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = 'warehouse' "
                     "and pid <> pg_backend_pid()")
        conn.execute("drop database if exists warehouse")
        conn.execute("create database warehouse")
    db.bootstrap()


def query(sql: str, params: tuple | dict | None = None) -> list[dict]:
    """Rows of a query on the warehouse as dicts (admin connection: tests read every schema)."""
    from psycopg.rows import dict_row

    from spw import db

    with db.connect("warehouse") as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())
