"""Helpers shared by the ingestion tests: warehouse reset, checksums, small valid deliveries."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
from psycopg import sql

from spw.ingest import contract as c
from spw.ingest.pseudonymise import nhs_number_from
from spw.ingest.schema import ensure_schema

LOAD_DATE = "2025-06-30"
# Baseline identities come from a range the bad-file corpus does not use.
BASE_NHS = [x for x in (nhs_number_from(n) for n in range(600_000_000, 600_000_100)) if x]


def recreate_warehouse() -> None:
    """Same as the fresh_warehouse fixture, callable from module-scoped fixtures."""
    from spw import db

    with db.connect("postgres", autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = 'warehouse' "
                     "and pid <> pg_backend_pid()")
        conn.execute("drop database if exists warehouse")
        conn.execute("create database warehouse")
    db.bootstrap()


def reset_ingest_tables(conn: psycopg.Connection) -> None:
    ensure_schema(conn)
    audit = ["audit.file_loads", "audit.rejected_rows", "audit.replaced_records"]
    tables = [f"raw.{s}" for s in c.SOURCE_NAMES] + audit
    conn.execute("truncate " + ", ".join(tables))
    conn.commit()


def table_checksum(conn: psycopg.Connection, table: str, where: str = "true") -> tuple[int, str | None]:
    schema, name = table.split(".")
    row = conn.execute(sql.SQL("select count(*), md5(string_agg(t::text, '|' order by t::text)) from {}.{} t "
                               "where " + where).format(sql.Identifier(schema), sql.Identifier(name))).fetchone()
    return row[0], row[1]


def raw_checksums(conn: psycopg.Connection) -> dict[str, tuple[int, str | None]]:
    return {s: table_checksum(conn, f"raw.{s}") for s in c.SOURCE_NAMES}


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return path


def baseline_rows(source: str, n: int = 2, prefix: str = "BASE") -> list[list[str]]:
    """A small valid delivery of any source (header + n rows), keys disjoint from the corpus."""
    rows: dict[str, list[list[str]]] = {
        "practices": [["practice_code", "pcn_code", "sub_icb_code", "icb_code", "region_code", "list_size",
                       "effective_from"]] + [[f"Z{90000 + i}", "U99999", "99Z", "QZZ", "Y56", str(1000 + i), ""]
                                              for i in range(n)],
        "link_worker_workforce": [["pcn_code", "month", "wte"]] + [[f"U{90000 + i}", "2024-01-01", "1.5"]
                                                                   for i in range(n)],
        "patients": [["nhs_number", "practice_code", "year_of_birth", "sex", "registration_start_date"]]
        + [[BASE_NHS[i], "Z90000", "1960", "2", "2015-01-01"] for i in range(n)],
        "sp_referrals": [["referral_id", "nhs_number", "referral_date", "referral_source", "outcome"]]
        + [[f"{prefix}R{i}", BASE_NHS[i], "2024-01-02", "gp", "engaged"] for i in range(n)],
        "sp_wellbeing": [["assessment_id", "referral_id", "assessment_date", "assessment_type", "instrument", "item",
                          "score"]] + [[f"{prefix}W{i}", f"{prefix}R{i}", "2024-01-05", "baseline", "SWEMWBS", "total",
                                        "21.5"] for i in range(n)],
        "gp_appointments": [["appointment_id", "nhs_number", "practice_code", "appointment_date", "appt_status",
                             "hcp_type", "appt_mode"]]
        + [[f"{prefix}A{i}", BASE_NHS[i], "Z90000", "2024-01-03", "DNA", "GP", "Telephone"] for i in range(n)],
        "ae_attendances": [["ec_ident", "nhs_number", "provider_code", "arrival_date", "ec_department_type"]]
        + [[f"{prefix}E{i}", BASE_NHS[i], "RZZ", "2024-01-04", "01"] for i in range(n)],
        "inpatient_admissions": [["spell_id", "nhs_number", "provider_code", "admission_date", "admission_method"]]
        + [[f"{prefix}S{i}", BASE_NHS[i], "RZZ", "2024-01-04", "21"] for i in range(n)],
    }
    return rows[source]
