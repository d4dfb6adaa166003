"""One model set, two engines: the session's synthetic ICB, built on Postgres by the pipeline, is built
again on Spark (dbt-spark `session`, one local JVM for the raw tables and dbt) from the same raw rows,
and every mart and published table is compared (spw.spark.parity: counts, keys and exact columns
equal; derived values to 1e-9 relative unless LOOSER names the column and why).

The Spark build runs no data tests (they ran on Postgres, on the same SQL), so its published tables
stay in the shadow schema, which is what is compared. Timings go to test-output/spark-parity.txt."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from spw import db
from spw.config import dbt_project_dir, venv_bin
from spw.spark import parity
from spw.spark.raw_export import export_csv_folder

pytestmark = [pytest.mark.slow, pytest.mark.uses_built_warehouse]

# `<layer>.<table>.<column>` -> (relative bound, why). Empty: every derived value holds 1e-9.
LOOSER: dict[str, tuple[float, str]] = {}


@pytest.fixture(scope="module")
def spark_build(built_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    work = tmp_path_factory.mktemp("spark")
    raw, out = work / "raw", work / "tables"
    t0 = time.monotonic()
    export_csv_folder(raw)
    exported = time.monotonic() - t0
    env_dir = work / "spark-home"
    proc = subprocess.run(
        [str(venv_bin("spark", "python")), "-m", "spw.spark.build", "--raw-csv", str(raw), "--export", str(out),
         "build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
        capture_output=True, text=True, timeout=1800,
        env={**__import__("os").environ, "SPW_SPARK_DIR": str(env_dir)})
    took = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    (parity_log := Path(parity.__file__).resolve().parents[3] / "test-output").mkdir(exist_ok=True)
    (parity_log / "spark-build.log").write_text(log)
    steps = "\n".join(line for line in proc.stdout.splitlines() if re.match(r"\[\s*[\d.]+s\]", line))
    (parity_log / "spark-parity.txt").write_text(
        f"raw export from Postgres: {exported:.1f} s\nSpark process (session, raw import, dbt, export): "
        f"{took - exported:.1f} s\n{steps}\n")
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
    used |= {m for macro in manifest["macros"].values() for m in macro.get("depends_on", {}).get("macros", [])
             if macro["unique_id"] in used}
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
            problems += result.problems(bounds)
            worst = max(result.worst.values(), default=0.0)
            report.append(f"{name}: {result.pg_rows} rows, largest relative difference {worst:.3g}")
    spark_only = {p.name for p in out.iterdir()} - set(tables)
    problems += [f"{name}: on Spark only" for name in sorted(spark_only)]
    Path(parity.__file__).resolve().parents[3].joinpath("test-output", "spark-parity-tables.txt").write_text(
        "\n".join(report) + "\n")
    assert not problems, "\n".join(problems)
