"""`spw up`: the set-up step of a deployment (server, databases, roles, raw tables, key check).

Shared by the CLI and `make demo` (which used to import it from the CLI, a cycle), so it takes its
progress reporter as an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from spw.errors import SpwError

Progress = Callable[[str], AbstractContextManager[None]]


def _no_progress(title: str) -> AbstractContextManager[None]:
    return nullcontext()


def up(progress: Progress = _no_progress) -> str:
    """Start PostgreSQL (unless SPW_DATABASE_URL), create databases, roles and raw tables; make sure a
    pseudonymisation key that matches the warehouse is at hand. Returns the warehouse URL (admin)."""
    from spw import db, pg

    with progress("PostgreSQL"):
        pg.start()
        db.bootstrap()
    with progress("warehouse raw and audit tables"):
        _ensure_raw_schema()
    ensure_matching_key()
    return db.url("warehouse")


def _ensure_raw_schema() -> None:
    from spw import db
    from spw.ingest.schema import ensure_schema

    with db.connect("warehouse", "spw_loader") as conn:
        ensure_schema(conn)
        conn.commit()


def ensure_matching_key() -> None:
    """The one place the local deployment's key is created, and only for a warehouse that has never
    been loaded: a warehouse with a recorded fingerprint needs its own key, never a new one."""
    from spw import db, key_custody
    from spw.secrets import ensure_pseudonymisation_key, local_key_file

    with db.connect("warehouse") as conn:
        expected = key_custody.recorded(conn)
    key = key_custody.configured_key()
    if expected is None:
        if key is None:
            ensure_pseudonymisation_key()
        return
    if key is None:
        raise SpwError(
            f"this warehouse was loaded with the pseudonymisation key of fingerprint {key_custody.short(expected)} "
            f"and no key is configured here, so none was created (a new key would link nothing to earlier "
            f"loads): set SPW_PSEUDO_KEY, or put the key from its custodian in {local_key_file()} (mode 600), "
            "or `spw restore --key-file FILE` (docs/operations.md, key custody).")
    found = key_custody.fingerprint(key)
    if found != expected:
        raise key_custody.KeyMismatch(key_custody.mismatch_message(found, expected, "configured here"))
