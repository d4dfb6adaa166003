"""`spw`: the one command for the warehouse. Every sub-command has --help.

Expected failures (port taken, binaries missing, bad URL, failed task) print one sentence and exit
non-zero; unexpected ones keep their traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from spw.errors import SpwError

# `spw demo`'s synthetic England: large enough that the primary GP estimate's 95% interval is narrower
# than +-5 points (60,000 gave +-4.1; docs/benchmarks.md, "Demo size"); `spw demo --patients N` for another size.
DEMO_PATIENTS = 50_000

_T0 = time.monotonic()


@contextmanager
def step(title: str) -> Iterator[None]:
    """One progress line per long step, with elapsed time since the command started."""
    started = time.monotonic()
    print(f"[{started - _T0:6.1f}s] {title} ...", flush=True)
    yield
    print(f"[{time.monotonic() - _T0:6.1f}s] {title}: done in {time.monotonic() - started:.1f}s", flush=True)


# ---------------------------------------------------------------- services


def cmd_up(args: argparse.Namespace) -> int:
    from spw.deployment import up

    print(f"PostgreSQL ready: {_redact(up(progress=step))}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from spw import pg, services
    from spw.superset import server

    if server.stop():
        print("stopped superset")
    for name in services.known():
        if services.stop(name):
            print(f"stopped {name}")
    if pg.stop():
        print("stopped PostgreSQL")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from spw import pg, services

    rows: list[tuple[str, str, str, str]] = []
    if pg.external_url():
        rows.append(("postgres", "external", "-", _redact(pg.external_url() or "")))
    else:
        c = pg.cluster()
        pid = pg.is_running(c)
        rows.append(("postgres", "running" if pid else "stopped", str(pid or "-"), str(c.port() or "-")))
    for name in services.known():
        svc = services.get(name)
        rows.append((name, "running" if svc else "stopped", str(svc.pid if svc else "-"),
                     str(svc.port if svc and svc.port else "-")))
    from spw.superset import server

    pid = server.running_pid()
    rows.append(("superset", "running" if pid else "stopped", str(pid or "-"), str(server.port() or "-")))
    print(f"{'service':<22}{'state':<10}{'pid':<10}port")
    for r in rows:
        print(f"{r[0]:<22}{r[1]:<10}{r[2]:<10}{r[3]}")
    return 0


def cmd_db_url(args: argparse.Namespace) -> int:
    from spw import db

    print(db.url(args.database, None if args.role == "admin" else args.role))
    return 0


# ---------------------------------------------------------------- data


def cmd_synth(args: argparse.Namespace) -> int:
    from spw.synth import generate

    with step(f"synthetic extracts: {args.patients:,} patients, seed {args.seed}, layout {args.layout}"):
        summary = generate(Path(args.out), patients=args.patients, seed=args.seed, overwrite=args.overwrite,
                           layout=args.layout)
    print(f"{summary['landing_files']} delivery files in {summary['out_dir']}; truth in truth.json")
    for source, rows in sorted(summary["rows"].items()):
        print(f"  {source:<22} {rows:>10,} rows")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from spw.pipeline import run_pipeline
    from spw.runlock import exclusive_pipeline

    landing = Path(args.landing).resolve()
    if not landing.is_dir():
        raise SpwError(f"landing folder {landing} does not exist.")
    if getattr(args, "engine", "postgres") == "spark":
        return run_on_spark(landing)
    cmd_up(args)
    with exclusive_pipeline("run", wait=getattr(args, "wait", False)) as holder:  # two runs must not interleave
        failed = run_pipeline(landing, progress=step, full_refresh=getattr(args, "full_refresh", False),
                              lock_holder=holder)
    if failed:
        raise SpwError("pipeline task(s) failed: " + "; ".join(failed))
    print("pipeline finished: every task succeeded")
    from spw.superset import server

    server.clear_result_cache()  # dashboards read the new data from their next request on
    return 0


def run_on_spark(landing: Path) -> int:
    """Loading and dbt in one local Spark process (spark venv); dbt runs directly, not through
    Airflow and Cosmos (docs/national-scale.md). No Postgres is started."""
    import subprocess

    from spw.config import venv_bin

    cmd = [str(venv_bin("spark", "python")), "-m", "spw.spark.build", "--landing", str(landing), "build"]
    if subprocess.run(cmd, check=False).returncode != 0:
        raise SpwError("the Spark run failed (its output is above; dbt's log is in $SPW_HOME/spark/dbt-logs)")
    print("pipeline finished on Spark: raw loaded, every model built")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from spw import pg
    from spw.backup import backup

    pg.start()
    with step(f"backup to {args.out}"):
        manifest = backup(Path(args.out), include_key=args.include_key, wait=args.wait)
    fp = manifest["key"]["fingerprint"]
    print(f"backed up {', '.join(manifest['databases'])} and {len(manifest['secrets'])} secrets file(s) "
          f"to {Path(args.out).resolve()}")
    if fp and not args.include_key:
        from spw.key_custody import short

        print(f"the pseudonymisation key (fingerprint {short(fp)}) is NOT in the backup: keep it with its "
              "custodian (docs/operations.md, key custody)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from spw.backup import restore

    with step(f"restore from {args.source}"):
        counts = restore(Path(args.source), key_file=Path(args.key_file) if args.key_file else None,
                         allow_key_change=args.allow_key_change, wait=args.wait)
    print(f"restored: {len(counts)} warehouse tables, row counts as in the backup's manifest")
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    from spw.dbtrun import run_dbt

    return run_dbt(args.dbt_args, check=False).returncode


# ---------------------------------------------------------------- UI


def cmd_serve(args: argparse.Namespace) -> int:
    from spw.pipeline import start_airflow_ui
    from spw.superset import server

    with step("Superset"):
        superset_url = server.serve()
    with step("Airflow UI"):
        airflow_url = start_airflow_ui()
    print(f"Superset:   {superset_url}\nAirflow UI: {airflow_url}")
    return 0


def cmd_dashboards_import(args: argparse.Namespace) -> int:
    from spw.superset.bundle import import_all

    with step("Superset dashboards, roles and row-level security"):
        import_all()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from spw import report_data, report_pdf

    quarter = report_data.Quarter.parse(args.quarter)
    with step(f"board pack: region {args.region}, {quarter.label}"):
        out = report_pdf.write(report_data.load(args.region, quarter), Path(args.out))
    print(f"wrote {out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from spw.demo import run_demo

    return run_demo(patients=args.patients, seed=args.seed, progress=step)


# ---------------------------------------------------------------- plumbing


def _redact(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def build_parser() -> argparse.ArgumentParser:
    from spw import bi_logins, db  # role names only; kept out of the module's imports (start-up time)

    p = argparse.ArgumentParser(prog="spw", description="Social prescribing commissioning warehouse.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    add("up", cmd_up, "Start PostgreSQL (unless SPW_DATABASE_URL is set) and create databases, roles, tables.")
    add("down", cmd_down, "Stop every process spw started: Superset, Airflow, the local PostgreSQL.")
    add("status", cmd_status, "Show services with their pids and ports.")
    sp = add("db-url", cmd_db_url, "Print a connection URL that psql and psycopg accept.")
    sp.add_argument("--role", default="admin", choices=["admin", *db.LOGIN_ROLES])
    sp.add_argument("--database", default="warehouse", choices=["warehouse", "airflow", "superset", "postgres"])
    sp = add("synth", cmd_synth, "Write a deterministic synthetic landing folder (data contract v1).")
    sp.add_argument("--out", required=True, help="landing folder to write")
    sp.add_argument("--patients", type=int, default=5000)
    sp.add_argument("--seed", type=int, default=1)
    sp.add_argument("--overwrite", action="store_true", help="replace a folder written by an earlier run")
    sp.add_argument("--layout", default="icb", choices=["icb", "england"],
                    help="icb: one ICB-sized area (patients sample full-size lists); england: a scaled-down "
                         "England whose list sizes are the patients registered (the demo's)")
    sp = add("run", cmd_run, "Run ingestion and transformation DAGs through Airflow on a landing folder.")
    sp.add_argument("--landing", required=True, help="landing folder (one sub-folder per source)")
    sp.add_argument("--full-refresh", action="store_true",
                    help="pass --full-refresh to dbt (every build is a full rebuild already; kept for scripts)")
    sp.add_argument("--wait", action="store_true", help="queue behind a run that holds the warehouse, not refuse")
    sp.add_argument("--engine", choices=["postgres", "spark"], default="postgres",
                    help="spark: load and build on a local Spark session instead (docs/national-scale.md)")
    sp = add("backup", cmd_backup, "Back up the warehouse, Airflow and Superset databases and the secrets "
             "(with the key's fingerprint, not the key) to a new folder.")
    sp.add_argument("--out", required=True, help="new (or empty) folder to write")
    sp.add_argument("--include-key", action="store_true",
                    help="also copy the pseudonymisation key (only where the backup has the key's custody)")
    sp.add_argument("--wait", action="store_true", help="queue behind a run that holds the warehouse")
    sp = add("restore", cmd_restore, "Replace the databases and secrets by a backup's (refuses another key).")
    sp.add_argument("--from", dest="source", required=True, help="backup folder written by `spw backup`")
    sp.add_argument("--key-file", help="the pseudonymisation key from its custodian (installed in the state folder)")
    sp.add_argument("--allow-key-change", action="store_true",
                    help="restore even though the key's fingerprint differs from the backup's")
    sp.add_argument("--wait", action="store_true", help="queue behind a run that holds the warehouse")
    sp = add("dbt", cmd_dbt, "Run dbt (its own venv) against the warehouse as spw_transformer.")
    sp.add_argument("dbt_args", nargs=argparse.REMAINDER)
    add("serve", cmd_serve, "Start Superset and the Airflow UI on 127.0.0.1 and print their URLs.")
    add("dashboards-import", cmd_dashboards_import, "Import dashboards, roles and RLS into Superset "
        "(demo users only with `spw demo`).")
    sp = add("report", cmd_report, "Write a steering group's board pack (PDF) from the published tables, "
             "read as the region's BI login (row-level security and disclosure control hold).")
    sp.add_argument("--region", required=True, choices=bi_logins.REGION_CODES, help="NHS England region code")
    sp.add_argument("--quarter", required=True, help="calendar quarter, e.g. 2024-Q2 (April to June 2024)")
    sp.add_argument("--out", required=True, help="PDF file to write")
    sp = add("demo", cmd_demo, "Everything: database, synthetic data, pipeline, dashboards; prints where to look.")
    # sized so that the primary GP estimate's 95% interval is narrower than +-5 points (docs/benchmarks.md)
    sp.add_argument("--patients", type=int, default=DEMO_PATIENTS)
    sp.add_argument("--seed", type=int, default=1)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except SpwError as exc:
        print(f"spw {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
