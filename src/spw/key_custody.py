"""The pseudonymisation key's fingerprint: recorded in the warehouse at the first load, checked by
every later load, by `spw up` and by `spw restore`, so that a wrong or new key stops with a clear
error instead of silently giving every patient another patient_key (docs/operations.md, key custody).

The fingerprint is PBKDF2-HMAC-SHA256 of the key with a fixed salt and many iterations: equal keys
give equal fingerprints, and a reader of `audit` (analysts) cannot test guesses of a weak key fast.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import psycopg

from spw.errors import SpwError

TABLE = "audit.pseudonymisation_key"
_SALT = b"spw pseudonymisation key fingerprint v1"
_ITERATIONS = 200_000
_DDL_LOCK = 0x5350_4B46  # advisory lock: two first loads (parallel DAG tasks) create the table once
DDL = f"""
create table if not exists {TABLE} (
    singleton boolean primary key default true check (singleton),
    fingerprint text not null,
    recorded_at timestamptz not null default now()
)
"""


class KeyMismatch(SpwError):
    """The key at hand is not the one the warehouse's patient keys were made with."""


@lru_cache(maxsize=8)
def fingerprint(key: bytes) -> str:
    """`pbkdf2-sha256:<hex>` of the key; what manifests, the warehouse and messages show."""
    return "pbkdf2-sha256:" + hashlib.pbkdf2_hmac("sha256", key, _SALT, _ITERATIONS).hex()


def short(fp: str) -> str:
    """The first 16 hex digits: enough for a person to compare two fingerprints."""
    return fp.split(":", 1)[-1][:16]


def recorded(conn: psycopg.Connection) -> str | None:
    """The warehouse's recorded fingerprint, None before the first load."""
    if conn.execute("select to_regclass(%s)", (TABLE,)).fetchone()[0] is None:
        return None
    row = conn.execute(f"select fingerprint from {TABLE}").fetchone()
    return row[0] if row else None


def mismatch_message(found: str, expected: str, where: str) -> str:
    return (f"the pseudonymisation key {where} (fingerprint {short(found)}) is not the key this warehouse's "
            f"patient keys were made with (fingerprint {short(expected)}): with it no patient would link to "
            "earlier loads. Use the deployment's key (SPW_PSEUDO_KEY, the Airflow Variable spw_pseudo_key, or "
            "the key file from its custodian; docs/operations.md, key custody)")


def check_or_record(conn: psycopg.Connection, key: bytes) -> str:
    """Inside a load's transaction (as spw_loader): record the key's fingerprint if the warehouse has
    none, else raise KeyMismatch when it differs. Returns the fingerprint."""
    fp = fingerprint(key)
    if conn.execute("select to_regclass(%s)", (TABLE,)).fetchone()[0] is None:
        conn.execute("select pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
        conn.execute(DDL)
    conn.execute(f"insert into {TABLE} (fingerprint) values (%s) on conflict do nothing", (fp,))
    stored = conn.execute(f"select fingerprint from {TABLE}").fetchone()[0]
    if stored != fp:
        raise KeyMismatch(mismatch_message(fp, stored, "given to this load"))
    return fp


def configured_key() -> bytes | None:
    """The key a process outside Airflow would use (environment, then the local key file), or None."""
    from spw.secrets import PSEUDO_KEY_ENV, PSEUDO_KEY_VARIABLE, local_key_file

    value = os.environ.get(PSEUDO_KEY_ENV) or os.environ.get(f"AIRFLOW_VAR_{PSEUDO_KEY_VARIABLE.upper()}")
    if not value:
        path = local_key_file()
        value = path.read_text().strip() if path.is_file() else None
    return value.encode() if value else None


def read_key_file(path: Path) -> bytes:
    value = path.read_text().strip()
    if not value:
        raise SpwError(f"key file {path} is empty.")
    return value.encode()
