"""Scaling curve (issue 15 item 5): the same landing folders built on Postgres and on Spark, per model.

    SPW_VENVS=... python benchmarks/bench_scale.py run --engine postgres --patients 15000 --workdir DIR
    SPW_VENVS=... python benchmarks/bench_scale.py run --engine spark --patients 15000 --workdir DIR
    python benchmarks/bench_scale.py report --workdir DIR [--out docs/scale.md]

`run` builds one size on one engine (generating `DIR/landing-<n>` with seed 1 first if it is not
there) and writes `DIR/results/<engine>-<n>.json`; run it for 15,000, 150,000 and 1,500,000 patients on
both engines, then `report` reads every result and prints the tables (and draws `docs/img/scale.png`).

- *Postgres*: its own cluster in `DIR/pg` (state folder), the warehouse emptied first; the loader
  (`spw.ingest.loader`, COPY) then `dbt build` of models and seeds (tests are left out on both engines:
  Spark's parity run leaves them to Postgres). Peak memory: the cluster's processes' RSS, summed,
  sampled every second. Spill: the warehouse's `temp_bytes` (pg_stat_database) over the build.
- *Spark*: `python -m spw.spark.build --landing` (what `spw run --engine spark` runs: the loader's
  validation and pseudonymisation, Parquet raw tables, then dbt in the same JVM) in a fresh
  `DIR/spark-<n>`, with `SPARK_CONF_DIR` pointing at a spark-defaults.conf that turns on Spark's event
  log. Peak memory: the process tree's RSS, summed (JVM heap included, so it follows the heap size set);
  spill and peak execution memory: the event log's task metrics. Then `spw.spark.plans` writes the
  physical plans of the slowest models and counts the shapes that do not scale out.

Per model, with three sizes a factor 10 apart, time t(n) = a + b * n**k gives k = log10((t3 - t2) /
(t2 - t1)): the exponent of the data-proportional part, free of the fixed per-statement cost a.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_pipeline import SOURCES, load_code  # noqa: E402

VENVS = Path(os.environ.get("SPW_VENVS") or REPO / ".spw" / "venvs")
DBT_ARGS = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
# one Spark configuration at every size, so the curve shows data, not settings: 16 shuffle partitions
# (adaptive execution merges small ones back), a 10 GB driver (local mode: the driver is the executor)
SPARK_ENV = {"SPW_SPARK_SHUFFLE_PARTITIONS": "16", "SPW_SPARK_DRIVER_MEMORY": "10g", "SPW_SPARK_CORES": "2"}
PLANNED_MODELS = 6
# both engines pseudonymise with one key, so their raw tables hold the same patient keys
os.environ.setdefault("SPW_PSEUDO_KEY", "bench-scale-synthetic-only")


class TreeSampler(threading.Thread):
    """Peak summed RSS (MiB) of a process and all its descendants but this one, sampled every second."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self.done = root, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            total = 0
            for pid in descendants(self.root) - {os.getpid()}:
                try:
                    status = Path(f"/proc/{pid}/status").read_text().splitlines()
                    total += int(next(x for x in status if x.startswith("VmRSS:")).split()[1])
                except (OSError, StopIteration, ValueError):
                    continue
            self.peak = max(self.peak, total / 1024)

    def stop(self) -> float:
        self.done.set()
        self.join()
        return round(self.peak, 1)


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(proc.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


def ensure_landing(workdir: Path, patients: int, seed: int) -> Path:
    landing = workdir / f"landing-{patients}"
    if not (landing / "patients").is_dir():
        subprocess.run([str(VENVS / "airflow" / "bin" / "spw"), "synth", "--out", str(landing),
                        "--patients", str(patients), "--seed", str(seed)], check=True)
    return landing


def model_times(run_results: Path) -> dict[str, float]:
    results = json.loads(run_results.read_text())["results"]
    return {r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2) for r in results
            if r["unique_id"].startswith(("model.", "seed."))}


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


BUSY: dict[str, float] = {}  # log name -> share of the machine's CPU time busy during the stage


def timed(argv: list[str], env: dict[str, str], log: Path) -> tuple[float, int]:
    began, ticks = time.perf_counter(), cpu_ticks()
    with open(log, "w") as out:
        rc = subprocess.run(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT).returncode
    busy, total = (b - a for a, b in zip(ticks, cpu_ticks(), strict=True))
    BUSY[log.stem] = round(busy / max(total, 1), 3)
    return round(time.perf_counter() - began, 1), rc


def run_postgres(workdir: Path, patients: int, landing: Path) -> dict:
    home = workdir / "pg"
    env = {**os.environ, "SPW_HOME": str(home), "SPW_VENVS": str(VENVS), "PYTHONPATH": str(REPO / "src")}
    py = str(VENVS / "airflow" / "bin" / "python")
    setup = ("from spw import db, pg\nfrom spw.secrets import ensure_pseudonymisation_key\n"
             "ensure_pseudonymisation_key(); pg.start()\n"
             "with db.connect('postgres', autocommit=True) as conn:\n"
             "    conn.execute(\"select pg_terminate_backend(pid) from pg_stat_activity where datname = "
             "'warehouse' and pid <> pg_backend_pid()\")\n"
             "    conn.execute('drop database if exists warehouse')\n"
             "    conn.execute('create database warehouse')\n"
             "db.bootstrap()\n")
    subprocess.run([py, "-c", setup], env=env, check=True, cwd=REPO)
    temp_sql = ("from spw import db\nwith db.connect('postgres') as conn:\n"
                "    print(conn.execute(\"select temp_bytes from pg_stat_database where datname = 'warehouse'\")"
                ".fetchone()[0])\n")

    def temp_bytes() -> int:
        return int(subprocess.run([py, "-c", temp_sql], env=env, check=True, capture_output=True, text=True,
                                  cwd=REPO).stdout.strip())

    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    postmaster = int(next(home.rglob("postmaster.pid")).read_text().split()[0])
    sampler = TreeSampler(postmaster)
    sampler.start()
    load_s, rc = timed([py, "-c", load_code(landing)], env, logs / f"postgres-{patients}-load.log")
    load_peak = sampler.stop()
    if rc:
        raise SystemExit(f"load failed (log {logs})")
    target = workdir / f"pg-target-{patients}"
    before = temp_bytes()
    sampler = TreeSampler(postmaster)
    sampler.start()
    build_s, rc = timed([py, "-m", "spw.dbtrun", *DBT_ARGS, "--target-path", str(target)], env,
                        logs / f"postgres-{patients}-build.log")
    build_peak = sampler.stop()
    spill = temp_bytes() - before
    stratum_sql = ("from spw import db\nwith db.connect('warehouse') as conn:\n"
                   "    print(*conn.execute('select max(ring_size), count(distinct ring_rank) from "
                   "intermediate.int_match_ring').fetchone())\n"
                   "    print(conn.execute('select count(*) from raw.gp_appointments').fetchone()[0])\n")
    out = subprocess.run([py, "-c", stratum_sql], env=env, check=True, capture_output=True, text=True,
                         cwd=REPO).stdout.split()
    return {"engine": "postgres", "patients": patients, "ok": rc == 0, "load_s": load_s, "build_s": build_s,
            "load_peak_rss_mib": load_peak, "build_peak_rss_mib": build_peak, "spill_mib": round(spill / 2**20, 1),
            "largest_stratum": int(out[0]), "gp_appointments": int(out[2]),
            "models": model_times(target / "run_results.json")}


CTAS = re.compile(r"CreateDataSourceTableAsSelectCommand\nArguments: `\w+`\.`(\w+)`\.`(\w+)`")


def event_lines(folder: Path):  # noqa: ANN201 - an iterator of decoded JSON events
    for log in sorted(x for x in folder.rglob("*") if x.is_file() and not x.name.startswith((".", "app"))):
        # Spark 4 rolls the log into a folder of zstd files unless told otherwise (spark-defaults below)
        text = (subprocess.run(["zstd", "-dc", str(log)], check=True, capture_output=True, text=True).stdout
                if log.suffix == ".zstd" else log.read_text())
        for line in text.splitlines():
            if '"SparkListenerTaskEnd"' in line or '"SparkListenerJobStart"' in line or "SQLExecutionStart" in line:
                yield json.loads(line)


def spark_events(folder: Path) -> dict[str, float]:
    """Spill and peak execution memory summed/maxed over every task of the event log(s)."""
    disk = memory = peak = 0
    tasks = 0
    time.sleep(5)  # a JVM that has just stopped may still be renaming its `.inprogress` log
    try:
        events = [e for e in event_lines(folder) if e["Event"] == "SparkListenerTaskEnd"]
    except FileNotFoundError:  # renamed since listed: read under its new name
        return spark_events(folder)
    for event in events:
        metrics = event.get("Task Metrics") or {}
        tasks += 1
        disk += metrics.get("Disk Bytes Spilled", 0)
        memory += metrics.get("Memory Bytes Spilled", 0)
        peak = max(peak, metrics.get("Peak Execution Memory", 0))
    return {"tasks": tasks, "disk_spill_mib": round(disk / 2**20, 1), "memory_spill_mib": round(memory / 2**20, 1),
            "peak_task_execution_mib": round(peak / 2**20, 1)}


def spark_model_work(folder: Path) -> dict[str, float]:
    """Task seconds (executor run time summed over tasks) per table a statement created, from the event
    log: unlike a model's wall time, this does not count waiting for the cores while a statement of the
    other dbt thread holds them (one local JVM serves both threads, and its scheduler is first in, first
    out)."""
    table_of: dict[int, str] = {}
    stage_root: dict[int, int] = {}
    work: dict[str, float] = {}
    for event in event_lines(folder):
        kind = event["Event"]
        if kind.endswith("SQLExecutionStart"):
            found = CTAS.search(event.get("physicalPlanDescription", ""))
            if found:
                name = found.group(2).removesuffix("__dbt_tmp")
                table_of[int(event["executionId"])] = name
                table_of[int(event.get("rootExecutionId", event["executionId"]))] = name
        elif kind == "SparkListenerJobStart":
            props = event.get("Properties") or {}
            root = props.get("spark.sql.execution.root.id") or props.get("spark.sql.execution.id")
            if root is not None:
                stage_root.update({stage: int(root) for stage in event["Stage IDs"]})
        else:
            name = table_of.get(stage_root.get(event["Stage ID"], -1))
            if name:
                run = (event.get("Task Metrics") or {}).get("Executor Run Time", 0) / 1000
                work[name] = round(work.get(name, 0.0) + run, 2)
    return work


def run_spark(workdir: Path, patients: int, landing: Path) -> dict:
    spark_dir, events = workdir / f"spark-{patients}", workdir / f"spark-events-{patients}"
    conf = workdir / "spark-conf"
    for d in (spark_dir, events):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    conf.mkdir(exist_ok=True)
    (conf / "spark-defaults.conf").write_text(
        f"spark.eventLog.enabled true\nspark.eventLog.dir file://{events}\n"
        "spark.eventLog.compress false\nspark.eventLog.rolling.enabled false\n")
    env = {**os.environ, **SPARK_ENV, "SPW_SPARK_DIR": str(spark_dir), "SPARK_CONF_DIR": str(conf),
           "SPW_HOME": str(workdir / "spark-home"), "PYTHONPATH": str(REPO / "src")}
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    py = str(VENVS / "spark" / "bin" / "python")
    sampler = TreeSampler(os.getpid())
    sampler.start()
    log = logs / f"spark-{patients}.log"
    wall, rc = timed([py, "-m", "spw.spark.build", "--landing", str(landing), *DBT_ARGS], env, log)
    peak = sampler.stop()
    steps = {m.group(2): float(m.group(1)) for m in re.finditer(r"\[\s*([\d.]+)s\] (\S+ ?\S*)", log.read_text())}
    loaded_at = next((v for k, v in steps.items() if k.startswith("landing")), 0.0)
    models = model_times(spark_dir / "target" / "run_results.json")
    slowest = sorted((m for m in models if not m.startswith(("stg_", "pub_"))), key=lambda m: -models[m])
    plans = workdir / f"spark-plans-{patients}"
    with open(logs / f"spark-{patients}-plans.log", "w") as plan_log:
        subprocess.run([py, "-m", "spw.spark.plans", "--out", str(plans), *slowest[:PLANNED_MODELS]], env=env,
                       cwd=REPO, stdout=plan_log, stderr=subprocess.STDOUT)
    found = json.loads((plans / "plans.json").read_text()) if (plans / "plans.json").exists() else {}
    return {"engine": "spark", "patients": patients, "ok": rc == 0, "load_s": loaded_at,
            "build_s": round(wall - loaded_at, 1), "wall_s": wall, "peak_rss_mib": peak,
            **spark_events(events), "plans": found, "models": models, "task_seconds": spark_model_work(events),
            "settings": SPARK_ENV}


def exponent(t: list[float]) -> float | None:
    """k of t(n) = a + b n**k from three sizes a factor 10 apart; None unless time grows at each step."""
    if len(t) != 3 or not (t[2] - t[1] > 0 and t[1] - t[0] > 0):
        return None
    return round(math.log10((t[2] - t[1]) / (t[1] - t[0])), 2)


# The projection's cluster and assumptions (docs/scale.md): Databricks, 8 workers x 16 cores; the task
# work spreads over the cores at half efficiency (shuffles, skew, stragglers); the build's fixed cost
# (planning, small tasks, commits) stays as measured on one machine.
NATIONAL_PATIENTS = 60_000_000
CLUSTER_CORES = 128
EFFICIENCY = 0.5


def split_fixed_and_data(t: list[float]) -> tuple[float, float, float]:
    """(fixed a, data part at the largest size, k) from three sizes a factor 10 apart. Where time does
    not grow at each step (noise at small sizes), the growth from the smallest size is taken as the data
    part and as linear (k = 1), which overstates a fixed cost's growth rather than hiding a data one."""
    k = exponent(t)
    if k is None:
        data = max(t[2] - t[0], 0.0)
        return t[2] - data, data, 1.0
    r = 10 ** k
    data = (t[2] - t[1]) * r / (r - 1) if r != 1 else t[2] - t[0]
    return t[2] - data, data, k


# Growing one ICB grows every group the models join within (practices, matching strata, sub-ICBs); the
# nation adds groups. Its sub-ICBs hold about 3 times the patients of this ICB's at 1.5M (60M / 106
# against 1.5M / 8), so growth above linear (k > 1) applies to that factor, not to the whole 40.
GROUP_GROWTH = 3.0


def project(t: list[float], largest: int) -> float:
    """Task (core) seconds at NATIONAL_PATIENTS from one model's task seconds at three sizes: the data
    part times the number of ICB-sized units, times the within-group growth to the power k - 1."""
    fixed, data, k = split_fixed_and_data(t)
    return fixed + data * (NATIONAL_PATIENTS / largest) * GROUP_GROWTH ** (k - 1)


def report(workdir: Path, out: Path | None) -> str:
    results = {(r["engine"], r["patients"]): r for r in
               (json.loads(p.read_text()) for p in sorted((workdir / "results").glob("*.json")))}
    sizes = sorted({n for _, n in results})
    lines = [f"Machine: {platform.platform()}, {os.cpu_count()} cores, "
             f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB.", "",
             "| engine | patients | GP appointments | load s | build s | peak memory MiB | spill MiB |"
             " largest matching stratum |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    def num(v: object) -> str:
        return "not recorded" if v is None else f"{v:,}" if isinstance(v, int | float) else str(v)

    for (engine, n), r in sorted(results.items()):
        memory = r.get("build_peak_rss_mib", r.get("peak_rss_mib"))
        spill = r.get("spill_mib", r.get("disk_spill_mib"))
        pg = results.get(("postgres", n), {})
        lines.append(f"| {engine} | {n:,} | {num(pg.get('gp_appointments', ''))} | {r['load_s']} | {r['build_s']} |"
                     f" {num(memory)} | {num(spill)} | {num(pg.get('largest_stratum', ''))} |")
    lines += ["", "Per model (seconds at each size; k = exponent of the data-proportional part):", ""]
    for engine in ("postgres", "spark"):
        runs = [results[(engine, n)] for n in sizes if (engine, n) in results]
        if not runs:
            continue
        # Spark: task seconds (the model's own work); Postgres: the model's wall time (one backend each)
        key = "task_seconds" if all("task_seconds" in r for r in runs) else "models"
        names = sorted(runs[-1][key], key=lambda m: -runs[-1][key][m])[:15]
        lines += [f"**{engine}** ({'task seconds' if key == 'task_seconds' else 'seconds'})", "",
                  "| model | " + " | ".join(f"{r['patients']:,}" for r in runs) + " | k |",
                  "|---|" + "---:|" * (len(runs) + 1)]
        for m in names:
            t = [r[key].get(m, 0.0) for r in runs]
            k = exponent(t)
            lines.append(f"| `{m}` | " + " | ".join(f"{x:.1f}" for x in t) + f" | {'' if k is None else k} |")
        total = [sum(r[key].values()) for r in runs]
        lines.append("| all models (sum) | " + " | ".join(f"{x:.0f}" for x in total) +
                     f" | {exponent(total) or ''} |")
        lines.append("")
        if engine == "spark" and len(runs) == 3:
            lines += projection(runs, key)
    lines += plan_table(workdir, max(n for e, n in results if e == "spark")) if any(
        e == "spark" for e, _ in results) else []
    text = "\n".join(lines)
    if out:
        draw(results, sizes, out)
    return text


def projection(runs: list[dict], key: str) -> list[str]:
    """Every model's work projected to 60M patients, then spread over the stated cluster."""
    largest = runs[-1]["patients"]
    rows = []
    for m in runs[-1][key]:
        t = [r[key].get(m, 0.0) for r in runs]
        fixed, data, k = split_fixed_and_data(t)
        rows.append((project(t, largest), m, fixed, data, k))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    # what a build costs whatever the data: the smallest size's wall time over its 2 dbt threads
    overhead = runs[0]["build_s"]
    wall = total / (CLUSTER_CORES * EFFICIENCY)
    return [f"Projection to {NATIONAL_PATIENTS:,} patients: {total / 3600:,.0f} core-hours of tasks; on "
            f"{CLUSTER_CORES} cores at {EFFICIENCY:.0%} efficiency {wall / 60:,.0f} min, plus the build's fixed "
            f"cost (the smallest size's build, {overhead / 60:.0f} min on this machine). The 10 largest:", "",
            "| model | fixed task s | data task s at 1.5M | k | task s at 60M |", "|---|---:|---:|---:|---:|",
            *[f"| `{m}` | {a:.1f} | {d:.1f} | {k:.2f} | {p:,.0f} |" for p, m, a, d, k in rows[:10]], ""]


def plan_table(workdir: Path, patients: int) -> list[str]:
    """The plan shapes of the slowest Spark models at one size (spw.spark.plans, read from the saved plans)."""
    sys.path.insert(0, str(REPO / "src"))
    from spw.spark.plans import NOT_SCALABLE, plan_findings

    shapes = [*NOT_SCALABLE, "unpartitioned window"]
    lines = [f"Spark plans of the slowest models at {patients:,} patients (operators counted):", "",
             "| model | " + " | ".join(shapes) + " |", "|---|" + "---:|" * len(shapes)]
    for plan in sorted((workdir / f"spark-plans-{patients}").glob("*.txt")):
        found = plan_findings(plan.read_text())
        lines.append(f"| `{plan.stem}` | " + " | ".join(str(found[x]) for x in shapes) + " |")
    return [*lines, ""]


def draw(results: dict, sizes: list[int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for engine, marker in (("postgres", "o"), ("spark", "s")):
        pts = [(n, results[(engine, n)]["build_s"] + results[(engine, n)]["load_s"]) for n in sizes
               if (engine, n) in results]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker=marker, label=f"{engine}: load + build")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("synthetic patients (one ICB)")
    ax.set_ylabel("seconds (2 cores)")
    ax.set_title("Warehouse load and build time by size, same landing folders")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--engine", choices=["postgres", "spark"], required=True)
    run.add_argument("--patients", type=int, required=True)
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--workdir", type=Path, required=True)
    rep = sub.add_parser("report")
    rep.add_argument("--workdir", type=Path, required=True)
    rep.add_argument("--chart", type=Path, help="write the chart here (PNG)")
    args = ap.parse_args()
    if args.command == "report":
        print(report(args.workdir, args.chart))
        return
    landing = ensure_landing(args.workdir, args.patients, args.seed)
    began = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    result = (run_postgres if args.engine == "postgres" else run_spark)(args.workdir, args.patients, landing)
    result.update(began=began, ended=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                  load_average=os.getloadavg()[0], sources=list(SOURCES), cpu_busy=BUSY)
    (args.workdir / "results").mkdir(exist_ok=True)
    (args.workdir / "results" / f"{args.engine}-{args.patients}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("models", "plans")}, indent=1))


if __name__ == "__main__":
    main()
