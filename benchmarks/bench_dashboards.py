"""Dashboard chart-query latency with 1, 10 and 50 concurrent users, on loopback only.

Every simulated user logs in as one of the demo accounts (regional steering groups, NHS England,
analyst: so row-level security is part of every query) and fires the bundle's chart queries
(`/api/v1/chart/data`, the request a dashboard makes per chart) in dashboard order. Requests are
bounded per level. Two modes:

- *forced*: every query goes to the warehouse (`force: true`), the worst case;
- *realistic*: queries as dashboards send them (no force), so Superset's shared result cache answers
  repeats of a chart within a region. The result cache is emptied first; the first pass (10 users,
  every chart once per account) is reported on its own as "cache empty", then 1/10/50 users.

Each row records the 1-minute load average when the level ended (the machine is shared). `--runs N`
repeats everything. Results are printed and written to the "Dashboards" section of
docs/benchmarks.md; nothing else in that file is touched.

    SPW_HOME=... python benchmarks/bench_dashboards.py [--requests 300] [--runs 3] [--no-write]

Needs a built warehouse in $SPW_HOME (`make demo`). Uses the running Superset, or starts one (and
imports the bundle, roles and RLS) and stops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
SECTION = "## Dashboards"
LEVELS = (1, 10, 50)
USERS = ("region_y60", "region_y62", "region_y56", "nhse", "analyst", "region_y58", "region_y59",
         "region_y61", "region_y63")


@dataclass
class LevelResult:
    users: int
    mode: str  # "forced", "realistic, cache empty" or "realistic"
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    seconds: float
    load: float = 0.0  # 1-minute load average when the level ended
    run: int = 1

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def _bodies(admin, bundle_dir: Path, force: bool) -> list[dict]:
    """One chart-data body per chart, in dashboard order (what opening every dashboard requests)."""
    from spw.superset import queries

    ds = {d["uuid"]: d["id"] for d in admin.list_all("dataset", ["id", "uuid"])}
    charts = {c.uuid: c for c in queries.bundle_charts(bundle_dir)}
    ordered = []
    for dash in queries.bundle_dashboards(bundle_dir):
        for node in dash["position"].values():
            if isinstance(node, dict) and node.get("type") == "CHART":
                c = charts[node["meta"]["uuid"]]
                ordered.append(queries.chart_data_body(c.params, ds[c.dataset_uuid], force=force))
    return ordered


def run_level(clients: list, bodies: list[dict], users: int, total: int, mode: str) -> LevelResult:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_user = max(1, total // users)

    def one_user(i: int) -> None:
        nonlocal errors
        api = clients[i % len(clients)]
        for k in range(per_user):
            body = bodies[(i * 7 + k) % len(bodies)]  # users start at different charts
            t0 = time.perf_counter()
            resp = api.session.post(f"{api.base_url}/api/v1/chart/data", json=body, timeout=120)
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(dt)
                errors += resp.status_code != 200

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(one_user, range(users)))
    seconds = time.perf_counter() - began
    return LevelResult(users, mode, len(latencies), errors, statistics.median(latencies),
                       _percentile(latencies, 95), max(latencies), seconds, os.getloadavg()[0])


def published_sizes() -> dict[str, int]:
    from spw import db

    with db.connect("warehouse", "spw_bi_reader") as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'published' order by 1")]
        return {t: conn.execute(f'select count(*) from published."{t}"').fetchone()[0] for t in tables}


def pcns_in_warehouse() -> int:
    from spw import db

    with db.connect("warehouse", "spw_bi_reader") as conn:
        return conn.execute("select count(distinct pcn_code) from published.mart_rollout_pcn_month").fetchone()[0]


def patients_in_warehouse() -> int | None:
    from spw import db

    try:
        with db.connect("warehouse") as conn:
            return conn.execute("select count(*) from raw.patients").fetchone()[0]
    except Exception:  # noqa: BLE001 - informative only
        return None


def render(results: list[LevelResult], sizes: dict[str, int], patients: int | None, pcns: int, n_bodies: int,
           workers: str) -> str:
    runs = max(r.run for r in results)
    loads = [r.load for r in results]
    lines = [
        SECTION, "",
        f"`benchmarks/bench_dashboards.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work (1-minute load average {min(loads):.1f} to "
        f"{max(loads):.1f} during the runs); Superset {workers}, Postgres on the same machine, loopback only; "
        f"{runs} run{'s' if runs > 1 else ''}.",
        "",
        f"Each simulated user is logged in as a demo account (regional steering groups, NHS England, analyst), "
        f"so row-level security is applied to every query, and posts the {n_bodies} chart queries of the "
        "four dashboards (`/api/v1/chart/data`) in dashboard order, with no pause between them. *Forced* "
        "sends every query to the warehouse (`force: true`). *Realistic* sends them as the dashboards do, "
        "so Superset's result cache, shared by the users of a region, answers repeats: the cache is emptied "
        "first, the first pass (every chart once per account, 10 users) is shown as *cache empty*, then 1, "
        "10 and 50 users.",
        "",
        f"Warehouse: {patients if patients is not None else 'unknown'} synthetic patients in {pcns} PCNs, the "
        "size of one ICB (ICBs have roughly 10 to 50 PCNs). The dashboards read only the published tables, "
        "whose size follows the number of areas and months rather than patients: "
        + ", ".join(f"`{t}` {n:,}" for t, n in sizes.items()) + " rows.",
        "",
        "Long tables page on the server (50 rows and a row count per request), as the dashboards do.",
        "",
        "| run | mode | users | requests | errors | p50 ms | p95 ms | max ms | requests/s | load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.run} | {r.mode} | {r.users} | {r.requests} | {r.errors} | {r.p50_ms:.0f} | "
                     f"{r.p95_ms:.0f} | {r.max_ms:.0f} | {r.per_second:.1f} | {r.load:.1f} |")
    lines.append("")
    for mode in ("realistic", "forced"):
        ten = [r for r in results if r.users == 10 and r.mode == mode]
        met = sum(r.p95_ms < 1000 and r.errors == 0 for r in ten)
        lines.append(f"Target p95 < 1 s at 10 concurrent users, {mode}: **met in {met} of {len(ten)} runs** "
                     f"(p95 {', '.join(f'{r.p95_ms:.0f}' for r in ten)} ms).")
        lines.append("")
    return "\n".join(lines)


def write_section(text: str, doc: Path = DOC) -> None:
    """Replace only the "## Dashboards" section (up to the next level-2 heading)."""
    existing = doc.read_text() if doc.exists() else "# Benchmarks\n"
    lines = existing.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        out = existing.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        out = "".join(lines[:start]) + text + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per level (bounded)")
    parser.add_argument("--levels", type=int, nargs="*", default=list(LEVELS))
    parser.add_argument("--runs", type=int, default=1, help="repeat both modes this many times")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    from spw.superset import bundle, security, server
    from spw.superset.api import SupersetClient

    started = server.running_pid() is None
    if started:
        bundle.import_all(demo_users=True)  # the benchmark logs in as the demo users
        server.start()
    try:
        url = server.base_url()
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit("refusing to benchmark anything but loopback")
        passwords = json.loads(security.users_file().read_text())
        admin = SupersetClient(url, "admin", passwords["admin"])
        clients = []
        for i in range(max(args.levels)):
            clients.append(SupersetClient(url, USERS[i % len(USERS)], passwords[USERS[i % len(USERS)]]))
            time.sleep(0.15)  # stay under the login rate limit
        results = []
        for run in range(1, args.runs + 1):
            for mode in ("forced", "realistic"):
                bodies = _bodies(admin, bundle.bundle_dir(), force=mode == "forced")
                plan = [(u, args.requests, mode) for u in args.levels]
                if mode == "realistic":  # forced queries refresh cached results too: start empty
                    server.clear_result_cache()
                    plan.insert(0, (min(len(clients), 10), len(bodies) * min(len(clients), 10),
                                    "realistic, cache empty"))
                for users, total, label in plan:
                    r = run_level(clients, bodies, users, total, label)
                    r.run = run
                    results.append(r)
                    print(f"run {run} {users:>3} users {label:>22}: p50 {r.p50_ms:.0f} ms, p95 {r.p95_ms:.0f} ms, "
                          f"max {r.max_ms:.0f} ms, {r.errors} errors, {r.per_second:.1f} req/s, "
                          f"load {r.load:.1f}", flush=True)
        text = render(results, published_sizes(), patients_in_warehouse(), pcns_in_warehouse(), len(bodies),
                      "gunicorn {} workers x {} threads".format(*server.gunicorn_shape()))
        print(text)
        if not args.no_write:
            write_section(text)
        return 0 if all(r.errors == 0 for r in results) else 1
    finally:
        if started:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
