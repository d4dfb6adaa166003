"""One model set, two engines: a synthetic ICB of its own (conftest.parity_warehouse, smaller than the
session's), loaded by the Postgres loader and built by dbt on Postgres, is loaded and built again on
Spark by `python -m spw.spark.build --landing` (what `spw run --engine spark` runs: the loader's own
validation and pseudonymisation, then dbt, in one local JVM), and compared: the raw tables, the ledger
and the row errors (spw.spark.parity.compare_load_table), then every mart and published table
(spw.spark.parity.compare_table: counts, keys and exact columns equal, derived values to 1e-9
relative unless LOOSER names the column and why), each with rows.

Neither build runs data tests (the session's Postgres pipeline runs them, on the same SQL), so
published tables stay in the shadow schema, which is what is compared. Timings go to
test-output/spark-parity.txt."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from spw import db
from spw.config import dbt_project_dir, venv_bin
from spw.spark import parity

# Part of make test since the Spark process fits its 10-minute budget (6.5 min on an idle machine,
# docs/benchmarks.md); SPW_TEST_SPARK=0 skips it on a developer's machine, never in CI.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SPW_TEST_SPARK") == "0", reason="Spark parity skipped (SPW_TEST_SPARK=0)"),
]

OUTPUT = Path(__file__).resolve().parents[1] / "test-output"

# `<layer>.<table>.<column>` -> (relative bound, why). Empty: every derived value holds 1e-9.
LOOSER: dict[str, tuple[float, str]] = {}


@pytest.fixture(scope="module")
def spark_build(parity_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    work = tmp_path_factory.mktemp("spark")
    out, env_dir = work / "tables", work / "spark-home"
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(venv_bin("spark", "python")), "-m", "spw.spark.build", "--landing", str(parity_warehouse),
         "--export", str(out), "build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
        capture_output=True, text=True, timeout=3600, env={**os.environ, "SPW_SPARK_DIR": str(env_dir)})
    took = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "spark-build.log").write_text(log)
    steps = "\n".join(line for line in proc.stdout.splitlines() if re.match(r"\[\s*[\d.]+s\]", line))
    (OUTPUT / "spark-parity.txt").write_text(
        f"Spark process (session, loading, dbt build without tests, export): {took:.1f} s\n{steps}\n")
    assert proc.returncode == 0, f"Spark build failed: {log[-3000:]}"
    return out, env_dir, log


def test_every_model_builds_on_spark(spark_build: tuple[Path, Path, str]) -> None:
    _, env_dir, _ = spark_build
    results = json.loads((env_dir / "target" / "run_results.json").read_text())["results"]
    failed = [r["unique_id"] for r in results if r["status"] not in ("success", "pass")]
    assert not failed, failed
    manifest = json.loads((env_dir / "target" / "manifest.json").read_text())
    models = {n for n, v in manifest["nodes"].items() if v["resource_type"] in ("model", "seed")}
    assert models <= {r["unique_id"] for r in results}


def test_every_spark_macro_is_used_by_the_build(spark_build: tuple[Path, Path, str]) -> None:
    """Each spark__ form is something the build above ran, not an untested variant."""
    _, env_dir, _ = spark_build
    manifest = json.loads((env_dir / "target" / "manifest.json").read_text())
    used = {m for node in manifest["nodes"].values() for m in node.get("depends_on", {}).get("macros", [])}
    while True:  # macros called by used macros, to a fixed point
        more = {m for macro in manifest["macros"].values() if macro["unique_id"] in used
                for m in macro.get("depends_on", {}).get("macros", [])} - used
        if not more:
            break
        used |= more
    defined = {f"macro.spw.{name}" for path in (dbt_project_dir() / "macros").glob("*.sql")
               for name in re.findall(r"macro\s+(spark__\w+)\s*\(", path.read_text())}
    assert defined, "no spark__ macro found"
    # dispatch resolves at run time; the static list names the dispatching macro, so check its spark__ form
    dispatchers = {m.replace("macro.spw.", "macro.spw.spark__") for m in used}
    unused = sorted(defined - dispatchers - used)
    assert not unused, unused


def test_marts_and_published_tables_equal_on_both_engines(spark_build: tuple[Path, Path, str]) -> None:
    out, _, _ = spark_build
    bounds = {k: v[0] for k, v in LOOSER.items()}
    problems, report = [], []
    with db.connect("warehouse", "spw_transformer") as conn:
        tables = parity.postgres_tables(conn)
        assert {n.split(".")[0] for n in tables} == set(parity.SCHEMAS), sorted(tables)
        for name, columns in sorted(tables.items()):
            found = (out / name).is_dir()
            if not found:
                problems.append(f"{name}: not built on Spark")
                continue
            result = parity.compare_table(name, columns, parity.postgres_rows(conn, name), parity.spark_rows(out, name))
            if not result.pg_rows:
                problems.append(f"{name}: no rows (the parity ICB is too small to compare it)")
            problems += result.problems(bounds)
            worst = max(result.worst.values(), default=0.0)
            report.append(f"{name}: {result.pg_rows} rows, largest relative difference {worst:.3g}")
    spark_only = {p.name for p in out.iterdir() if p.name.split(".")[0] in parity.SCHEMAS} - set(tables)
    problems += [f"{name}: on Spark only" for name in sorted(spark_only)]
    (OUTPUT / "spark-parity-tables.txt").write_text("\n".join(report) + "\n")
    assert not problems, "\n".join(problems)


def test_spark_loader_loads_what_the_postgres_loader_loads(spark_build: tuple[Path, Path, str]) -> None:
    """Raw tables in every column but the load time; the ledger and the row errors in what they record."""
    out, _, _ = spark_build
    problems = []
    with db.connect("warehouse", "spw_loader") as conn:
        for name in [f"raw.{s}" for s in parity_sources()] + list(parity.LOAD_TABLES):
            problems += parity.compare_load_table(name, parity.postgres_rows(conn, name), parity.spark_rows(out, name))
    assert not problems, "\n".join(problems)


def parity_sources() -> list[str]:
    from spw.ingest import contract

    return list(contract.SOURCES)
