"""`python -m spw.spark.build [--raw-csv DIR] [dbt args]` (spark venv): the dbt project on the local
Spark session, in this process: raw tables imported first when asked, then dbt's programmatic runner
with the `spark` target (same JVM, no second start-up)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from spw.config import dbt_project_dir
from spw.spark import session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def run_dbt(args: Sequence[str]) -> bool:
    """dbt in this process against the session already started; True when every node succeeded."""
    from dbt.cli.main import dbtRunner

    target = session.spark_dir() / "target"
    full = [*args, "--target", "spark", "--project-dir", str(dbt_project_dir()),
            "--profiles-dir", str(dbt_project_dir()), "--target-path", str(target)]
    result = dbtRunner().invoke(full)
    return bool(result.success)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw-csv", type=Path, help="folder of <schema>.<table>.csv exported from Postgres")
    parser.add_argument("--landing", type=Path, help="load this landing folder first (spw.spark.load)")
    parser.add_argument("--export", type=Path, help="write every mart and published table as JSON lines here")
    opts, dbt_args = parser.parse_known_args(argv)
    t0 = time.monotonic()
    spark = session.start()
    print(f"[{time.monotonic() - t0:6.1f}s] Spark session ready", flush=True)
    if opts.raw_csv:
        from spw.spark.raw_import import import_csv_folder

        import_csv_folder(spark, opts.raw_csv)
        print(f"[{time.monotonic() - t0:6.1f}s] raw tables imported from {opts.raw_csv}", flush=True)
    if opts.landing:
        from spw.spark.load import load_landing

        results = load_landing(spark, opts.landing, run_id=f"spark-{int(time.time())}")
        for result in results:
            if result.status != "loaded":
                print(f"  {result.summary()}", flush=True)
        counts = {s: sum(r.status == s for r in results) for s in ("loaded", "duplicate", "rejected")}
        print(f"[{time.monotonic() - t0:6.1f}s] landing loaded: {counts}", flush=True)
    ok = run_dbt(dbt_args or ["build"])
    print(f"[{time.monotonic() - t0:6.1f}s] dbt {'succeeded' if ok else 'FAILED'}", flush=True)
    if opts.export:
        export_tables(spark, opts.export)
        print(f"[{time.monotonic() - t0:6.1f}s] tables written to {opts.export}", flush=True)
    return 0 if ok else 1


def export_tables(spark: SparkSession, folder: Path) -> None:
    """Each table of the compared layers (spw.spark.parity.SCHEMAS) as JSON lines in
    folder/<layer>.<table>/, NULLs written out, timestamps in UTC with microseconds."""
    from spw.spark.parity import SCHEMAS

    for layer, schema in {**SCHEMAS, "raw": "raw", "audit": "audit"}.items():
        if not spark.catalog.databaseExists(schema):
            continue
        for table in spark.catalog.listTables(schema):
            (spark.table(f"{schema}.{table.name}").coalesce(1).write.mode("overwrite")
             .option("ignoreNullFields", False).option("timestampFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
             .json(str(folder / f"{layer}.{table.name}")))


if __name__ == "__main__":
    sys.exit(main())
