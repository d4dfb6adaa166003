"""Shared fixtures: one real PostgreSQL cluster per test session, in its own state folder.

The cluster is started through the same code as `spw up` and always stopped at the end, so tests
never leave a server running. Tests never use a server named by SPW_DATABASE_URL: they drop the
warehouse database and reset role passwords, so that variable is removed from the test session's
environment (and its subprocesses') before anything reads it, and the header says so.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Before any spw import: from here on nothing in this process or its children can reach that server.
IGNORED_DATABASE_URL = bool(os.environ.pop("SPW_DATABASE_URL", None))
# Venvs stay where `make` installed them; everything else of the tests lives in its own state folder.
os.environ.setdefault("SPW_VENVS", str(Path(os.environ.get("SPW_HOME") or REPO / ".spw") / "venvs"))
# SPW_TEST_HOME lets parallel test runs (several developers on one machine) keep apart.
TEST_HOME = Path(os.environ.get("SPW_TEST_HOME") or REPO / ".spw" / "test-home")
os.environ["SPW_HOME"] = str(TEST_HOME)
os.environ.setdefault("SPW_PSEUDO_KEY", "test-only-pseudonymisation-key")
# The test cluster is thrown away at the end: no need to sync its writes (docs/operations.md).
os.environ.setdefault("SPW_PG_FSYNC", "off")
os.environ.setdefault("AIRFLOW_HOME", str(TEST_HOME / "airflow"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

OUTPUT = REPO / "test-output"


def pytest_report_header(config: pytest.Config) -> list[str]:
    if IGNORED_DATABASE_URL:
        return ["SPW_DATABASE_URL is set and ignored: tests use their own throwaway cluster in "
                f"{TEST_HOME / 'postgres'}, never that server"]
    return []


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Admin URL of database `postgres` on a running server, with project databases and roles."""
    from spw import db, pg

    assert not pg.external_url(), "tests never use SPW_DATABASE_URL"
    pg.discard()
    url = pg.start()
    db.bootstrap()
    try:
        yield url
    finally:
        if TEST_HOME.resolve() in pg.cluster().data.resolve().parents:
            pg.stop()  # kept for a look until the next session starts
        else:
            pg.discard()  # root mode put it in a private /var/tmp folder: leave nothing there


@pytest.fixture()
def fresh_warehouse(pg_server: str) -> Iterator[str]:
    """Drop and recreate the warehouse database for tests that need an empty one; yields its name."""
    _recreate_warehouse()
    yield "warehouse"


def _recreate_warehouse() -> None:
    from psycopg import sql

    from spw import db

    with db.connect("postgres", autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = 'warehouse' "
                     "and pid <> pg_backend_pid()")
        conn.execute(sql.SQL("drop database if exists warehouse"))
        conn.execute(sql.SQL("create database warehouse"))
    db.bootstrap()


@pytest.fixture()
def output_dir(request: pytest.FixtureRequest) -> Path:
    d = OUTPUT / request.node.name
    d.mkdir(parents=True, exist_ok=True)
    return d


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# Size of the synthetic ICB the end-to-end tests share (one pipeline run per test session).
# A higher referral rate than the national default gives enough referrals on a small population for
# the matched estimate to recover the planted effect (tests/test_warehouse_recovery.py).
PIPELINE_PATIENTS = int(os.environ.get("SPW_TEST_PATIENTS", "12000"))
PIPELINE_SEED = 11
PIPELINE_REFERRAL_RATE = 0.1
PIPELINE_TODAY = date(2026, 1, 15)  # fixed, so the test data are the same whatever day the suite runs


@pytest.fixture(scope="session")
def synthetic_landing(pg_server: str) -> Path:
    """A synthetic landing folder, generated once per session (deterministic)."""
    from spw.synth import generate
    from spw.synth.params import SynthParams

    out = TEST_HOME / "landing"
    shutil.rmtree(out, ignore_errors=True)
    generate(out, patients=PIPELINE_PATIENTS, seed=PIPELINE_SEED,
             params=SynthParams(referral_rate=PIPELINE_REFERRAL_RATE), today=PIPELINE_TODAY)
    return out


@pytest.fixture(scope="session")
def built_warehouse(pg_server: str, synthetic_landing: Path) -> Path:
    """The warehouse after the real pipeline (Airflow ingestion DAG + dbt through Cosmos) on the synthetic
    folder. Shared by every test that needs marts or published tables; returns the landing folder."""
    import subprocess
    import sys

    # An empty warehouse: loader tests earlier in the session leave their last test's rows behind.
    _recreate_warehouse()
    # Through the CLI a user runs, so `spw run --landing DIR` itself is what the suite exercises.
    spw = str(Path(sys.executable).parent / "spw")
    proc = subprocess.run([spw, "run", "--landing", str(synthetic_landing)], capture_output=True, text=True,
                          timeout=1800)
    (TEST_HOME / "spw-run.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"spw run failed: {proc.stderr[-2000:]} (full log {TEST_HOME / 'spw-run.log'})"
    return synthetic_landing


# The Spark parity test's own ICB (tests/test_spark_parity.py): smaller than the session's, so that
# loading and building it on Spark fits make test's time (docs/benchmarks.md), large enough that
# every mart and published table has rows (the test checks).
PARITY_PATIENTS = int(os.environ.get("SPW_TEST_SPARK_PATIENTS", "3000"))


@pytest.fixture(scope="module")
def parity_warehouse(pg_server: str) -> Path:
    """The parity ICB loaded by the Postgres loader (the ingestion task's code, without Airflow) and
    built by dbt without data tests (the session's pipeline runs them on the same SQL), so published
    tables stay in the shadow schema, as on Spark. It replaces the session's built warehouse: tests
    using it run after every test that reads that one. Returns the landing folder."""
    from spw.dbtrun import run_dbt
    from spw.ingest import contract
    from spw.ingest.loader import load_source
    from spw.synth import generate
    from spw.synth.params import SynthParams

    t0 = time.monotonic()
    out = TEST_HOME / "parity-landing"
    shutil.rmtree(out, ignore_errors=True)
    generate(out, patients=PARITY_PATIENTS, seed=PIPELINE_SEED,
             params=SynthParams(referral_rate=PIPELINE_REFERRAL_RATE), today=PIPELINE_TODAY)
    _recreate_warehouse()
    for source in contract.SOURCES:
        load_source(None, out, source, run_id="parity")
    proc = run_dbt(["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
                   check=False, capture=True)
    (TEST_HOME / "parity-dbt.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"dbt build failed: {proc.stdout[-2000:]} (full log {TEST_HOME / 'parity-dbt.log'})"
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "spark-parity-postgres.txt").write_text(
        f"{PARITY_PATIENTS} patients on Postgres (synthetic landing, loader, dbt build without tests): "
        f"{time.monotonic() - t0:.1f} s\n")
    return out


@pytest.fixture(scope="module")
def ingest_warehouse(pg_server: str) -> str:
    """A freshly created warehouse database for a module of loader tests."""
    from ingest_helpers import recreate_warehouse

    recreate_warehouse()
    return "warehouse"


@pytest.fixture()
def conn(ingest_warehouse: str) -> Iterator:
    """A loader connection to that warehouse, with raw and audit emptied before each test."""
    from ingest_helpers import reset_ingest_tables

    from spw import db

    with db.connect(ingest_warehouse, "spw_loader") as connection:
        reset_ingest_tables(connection)
        yield connection


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that recreate the warehouse database run before those that read the shared built one,
    so the session's pipeline run is done once and never wiped under a later test; the Spark parity
    test, which builds a warehouse of its own, runs last."""

    def rank(item: pytest.Item) -> int:
        names = set(getattr(item, "fixturenames", ()))
        if "fresh_warehouse" in names:
            return 0
        if "parity_warehouse" in names:
            return 3  # replaces the built warehouse: after everything that reads it
        if "built_warehouse" in names or item.get_closest_marker("uses_built_warehouse"):
            return 2
        return 1

    items.sort(key=rank)  # stable: file order is kept within each rank
