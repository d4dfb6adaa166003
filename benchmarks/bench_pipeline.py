"""Warehouse build benchmark (not a test): synthetic ICB -> loader -> dbt build, then a one-month refresh.

    SPW_HOME=... SPW_VENVS=... python benchmarks/bench_pipeline.py --patients 1500000 [--seed 1]
        [--workdir DIR] [--keep]

Starts (or re-uses) the cluster of $SPW_HOME and empties its warehouse database. Stages, each in its
own child process so that its wall time and peak memory (max RSS of that process tree, from wait4) are
its own:

1. generate: `spw.synth.generate` writes the landing folder;
2. load: `spw.ingest.loader.load_source` for every source, every delivery except the last month's;
3. build: `dbt build` (models + tests); per-model times from target/run_results.json;
4. refresh_load + refresh_build: the last month's deliveries land, are loaded, and dbt builds again.

Postgres runs as a server and is not a child: its memory is not in these figures (its settings are
printed). Prints a Markdown report (for docs/benchmarks.md, "Warehouse build") and writes it to
--out when given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("practices", "link_worker_workforce", "patients", "sp_referrals", "sp_wellbeing",
           "gp_appointments", "ae_attendances", "inpatient_admissions")


def run_stage(name: str, argv: list[str], env: dict[str, str] | None = None, check: bool = True) -> dict:
    """Run a child process; return wall seconds and its peak RSS (MiB) via wait4."""
    began = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - began
    if proc.returncode != 0 and check:
        raise SystemExit(f"stage {name} failed with exit code {proc.returncode}")
    # a failing data test (someone else's mart) must not hide the timings: record the exit code instead
    suffix = "" if proc.returncode == 0 else f" (exit {proc.returncode})"
    return {"stage": name + suffix, "seconds": round(wall, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1)}


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def split_last_month(full: Path, initial: Path, last: Path) -> str:
    """Copy every delivery to `initial` except the lexically last file of each monthly source."""
    label = ""
    for source in SOURCES:
        files = sorted((full / source).glob("*.csv"))
        (initial / source).mkdir(parents=True, exist_ok=True)
        (last / source).mkdir(parents=True, exist_ok=True)
        monthly = len(files) > 1 and source not in ("practices", "patients", "link_worker_workforce")
        for f in files:
            if monthly and f == files[-1]:
                label = f.stem
                shutil.copy2(f, last / source / f.name)
            else:
                shutil.copy2(f, initial / source / f.name)
    return label


def load_code(folder: Path) -> str:
    return ("from spw.ingest import loader\n"
            f"for s in {SOURCES!r}:\n"
            f"    loader.load_source(None, {str(folder)!r}, s)\n")


def model_times(limit: int = 12) -> list[dict]:
    results = json.loads((REPO / "dbt_project" / "target" / "run_results.json").read_text())
    rows = [{"node": r["unique_id"].split(".", 2)[-1], "seconds": round(r["execution_time"], 2),
             "rows": (r.get("adapter_response") or {}).get("rows_affected")}
            for r in results["results"] if r["unique_id"].startswith(("model.", "seed."))]
    rows.sort(key=lambda r: -r["seconds"])
    return rows[:limit]


def row_counts() -> dict[str, int]:
    from spw import db

    out = {}
    with db.connect("warehouse") as conn:
        for source in SOURCES:
            out[f"raw.{source}"] = conn.execute(f"select count(*) from raw.{source}").fetchone()[0]
        for rel in ("intermediate.int_index_referrals", "intermediate.int_patient_timelines",
                    "intermediate.int_match_ring", "intermediate.int_match_candidates",
                    "intermediate.int_matched_controls", "marts.mart_demand_reduction"):
            out[rel] = conn.execute(f"select count(*) from {rel}").fetchone()[0]
    return out


def pg_settings() -> dict[str, str]:
    from spw import db

    with db.connect("postgres") as conn:
        return {k: conn.execute(f"show {k}").fetchone()[0]
                for k in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather")}


def report(args: argparse.Namespace, stages: list[dict], first: list[dict], refresh: list[dict],
           counts: dict[str, int], settings: dict[str, str], label: str) -> str:
    lines = [
        "## Warehouse build",
        "",
        f"`python benchmarks/bench_pipeline.py --patients {args.patients} --seed {args.seed} "
        f"--layout {args.layout}` on "
        f"{platform.platform()}, {os.cpu_count()} cores (shared with other work), Postgres "
        f"{', '.join(f'{k}={v}' for k, v in settings.items())}. Wall time and peak memory (max RSS of "
        "the stage's own process tree; the Postgres server is not included) per stage:",
        "",
        "| stage | wall s | CPU s (client) | peak RSS MiB |",
        "|---|---:|---:|---:|",
        *[f"| {s['stage']} | {s['seconds']} | {s['cpu_seconds']} | {s['peak_rss_mib']} |" for s in stages],
        "",
        f"The refresh adds the last month's deliveries ({label}) and runs the same `dbt build`: every",
        "model is rebuilt in full (docs/developer-notes.md, Refresh).",
        "",
        "Slowest models of the first build (dbt run_results.json):",
        "",
        "| model | s | rows |",
        "|---|---:|---:|",
        *[f"| {m['node']} | {m['seconds']} | {m['rows'] if m['rows'] is not None else ''} |" for m in first],
        "",
        "Slowest models of the refresh build:",
        "",
        "| model | s | rows |",
        "|---|---:|---:|",
        *[f"| {m['node']} | {m['seconds']} | {m['rows'] if m['rows'] is not None else ''} |" for m in refresh],
        "",
        "Row counts after the refresh:",
        "",
        "| relation | rows |",
        "|---|---:|",
        *[f"| {k} | {v:,} |" for k, v in counts.items()],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_500_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the generated landing folder")
    ap.add_argument("--layout", default="icb", choices=["icb", "england"],
                    help="synthetic layout: one ICB-sized area (default) or the demo's scaled-down England")
    ap.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = ap.parse_args()

    from spw import db, pg
    from spw.secrets import ensure_pseudonymisation_key

    ensure_pseudonymisation_key()  # set-up, as `spw up` does: loads never create a key
    pg.start()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="spw-bench-"))
    full, initial, last = work / "full", work / "initial", work / "last"
    for d in (full, initial, last):
        shutil.rmtree(d, ignore_errors=True)
    with db.connect("postgres", autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = 'warehouse' "
                     "and pid <> pg_backend_pid()")
        conn.execute("drop database if exists warehouse")
        conn.execute("create database warehouse")
    db.bootstrap()

    # unit tests use fixed inputs: they say nothing about build time
    dbt = [sys.executable, "-m", "spw.dbtrun", "build", "--exclude-resource-type", "unit_test"]
    stages = [run_stage("generate", python(
        "from pathlib import Path; from spw.synth.generator import generate; "
        f"generate(Path({str(full)!r}), patients={args.patients}, seed={args.seed}, layout={args.layout!r})"))]
    label = split_last_month(full, initial, last)
    stages.append(run_stage("load (all but last month)", python(load_code(initial))))
    stages.append(run_stage("dbt build", dbt, check=False))
    first = model_times()
    stages.append(run_stage(f"refresh: load {label}", python(load_code(last))))
    stages.append(run_stage("refresh: dbt build", dbt, check=False))
    refresh = model_times()
    text = report(args, stages, first, refresh, row_counts(), pg_settings(), label)
    print(text)
    if args.out:
        args.out.write_text(text)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
