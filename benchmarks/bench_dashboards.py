"""Dashboard latency on loopback: chart queries without pause (stress), and readers with think time.

Every simulated user logs in as one of the demo accounts (regional steering groups, NHS England,
analyst: so row-level security is part of every query). Two workloads:

*Stress*: 1, 10 and 50 users fire the bundle's chart queries (`/api/v1/chart/data`, the request a
dashboard makes per chart) in dashboard order, each the moment the previous one returns. Requests are
bounded per level.

*Readers* (the user model for "50 concurrent users"): each reader logs in through the login form, as a
browser does, then repeatedly opens one of the four dashboards at random, sending what Superset 6.1's
frontend sends for it (recorded from Chromium, see READER_MODEL), over at most 6 connections at a time
(a browser's limit per host over HTTP/1.1), and then reads it for a think time drawn uniformly from
THINK_SECONDS. Readers arrive spread over the first think time. Each level runs for a fixed time.

Both workloads run in two modes:

- *forced*: every query goes to the warehouse (`force: true`), the worst case;
- *realistic*: queries as dashboards send them (no force), so Superset's shared result cache answers
  repeats of a chart within a region. The result cache is emptied first; the first pass (10 users,
  every chart once per account) is reported on its own as "cache empty", then 1/10/50 users.

For readers the result cache is emptied at the start of each realistic level (as after a pipeline run).

Each row records the 1-minute load average when the level ended (the machine is shared) and the CPU
time the server used per request (Superset's gunicorn processes and the local Postgres cluster, from
/proc: unlike latency it does not depend on what else the machine runs). `--runs N` repeats
everything. Results are printed and written to the "Dashboards" section of docs/benchmarks.md;
nothing else in that file is touched.

*Opens* (`--parts opens`, printed only): what one open of each dashboard costs the server, one request
at a time with the result cache warm, by kind of request (chart-data, `.../datasets`, page, ...). It
measures CPU time, so it stands on a busy machine where latency does not.

    SPW_HOME=... python benchmarks/bench_dashboards.py [--requests 300] [--runs 3] [--no-write]
        [--parts stress readers opens] [--readers 10 50] [--reader-seconds 180]
        [--open-user region_y60] [--open-repeats 5]

Needs a built warehouse in $SPW_HOME (`make demo`). Uses the running Superset, or starts one (and
imports the bundle, roles and RLS) and stops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
SECTION = "## Dashboards"
LEVELS = (1, 10, 50)
READER_LEVELS = (10, 50)
USERS = ("region_y60", "region_y62", "region_y56", "nhse", "analyst", "region_y58", "region_y59",
         "region_y61", "region_y63")

# A reader opens a dashboard and reads it before doing anything else (opening another, changing a
# filter): the dashboards lead with sentences, then 4 to 23 charts and tables, so reading one takes
# minutes. 15 to 45 s is the short end of that, chosen before measuring and not tuned.
THINK_SECONDS = (15.0, 45.0)
# Chromium sends at most 6 requests at a time to one host over HTTP/1.1 and queues the rest.
BROWSER_CONNECTIONS = 6
# READER_MODEL: what Superset 6.1's frontend sends to open a dashboard, recorded from Chromium's
# network log (2026-12-07, every dashboard, a regional login, browser cache warm): the page; then the
# dashboard, its charts and datasets and its favourite status together; then, all at once and so
# queued on the 6 connections, a chart-data request per chart in layout order, the filter state, a
# drill lookup (drill_info) per dataset the charts read and a chart-data request for each native filter's values.
# Re-recorded 2026-12-07 after readers got spw_reader instead of Gamma (dashboards/security/roles.yaml):
# the same requests without the drill lookups, which the frontend sends only for a login that may drill
# (see Browser.drills); of the demo logins only the analyst (Gamma) still may.
# Re-recorded 2026-12-07 after the regional and ICB dashboards got tabs (scripts/record_dashboard_requests.py
# --tabs): an open asks for the first tab's charts only, and for the values of the filters in scope of
# at least one of them; a further tab's charts (and newly in-scope filters) when a reader opens it
# (DashboardOpen.tabs, measured by --parts opens; readers here open dashboards, not further tabs).
# Left out: static files (cached by the browser), the colour-scheme PUT that readers are refused (403)
# and the event-log beacon (POST /superset/log/, 1 or 2 per open, sent seconds later).
DASHBOARD_COLUMNS = ("id,slug,url,dashboard_title,published,css,theme,json_metadata,position_json,certified_by,"
                     "certification_details,changed_by_name,changed_by,changed_on,created_by,charts,owners,roles,"
                     "tags,changed_on_delta_humanized,created_on_delta_humanized,is_managed_externally,uuid")
CHART_DATA = ("chart", "filter")  # the kinds of call that go to /api/v1/chart/data


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
    cpu_ms: float = float("nan")  # server CPU time per request (gunicorn and Postgres)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


# ---------------------------------------------------------------- server CPU time


def _server_roots() -> list[int]:
    """Superset's gunicorn master and the local Postgres postmaster (none for an external server)."""
    from spw import pg
    from spw.superset import server

    roots = [server.running_pid()]
    if not pg.external_url():
        roots.append(pg.is_running(pg.cluster()))
    return [r for r in roots if r]


def server_cpu_seconds(roots: list[int]) -> float:
    """User and system CPU of the roots and all their descendants, plus their reaped children's
    (Postgres backends end with their connections; the postmaster collects their time)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, ticks = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        ticks[pid] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    total = 0
    for pid, t in ticks.items():
        p = pid
        while p > 1 and p not in roots:
            p = parent.get(p, 0)
        total += t if p in roots else 0
    return total / tick


# ---------------------------------------------------------------- stress: queries without pause


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

    roots = _server_roots()
    cpu0 = server_cpu_seconds(roots)
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(one_user, range(users)))
    seconds = time.perf_counter() - began
    cpu = (server_cpu_seconds(roots) - cpu0) * 1000 / len(latencies)
    return LevelResult(users, mode, len(latencies), errors, statistics.median(latencies),
                       _percentile(latencies, 95), max(latencies), seconds, os.getloadavg()[0], cpu_ms=cpu)


# ---------------------------------------------------------------- readers: the user model


@dataclass(frozen=True)
class Call:
    kind: str  # "page", "metadata", "chart", "filter" (a native filter's values), "drill" or "other"
    method: str
    path: str
    body: dict | None = None


@dataclass(frozen=True)
class DashboardOpen:
    slug: str
    page: Call
    metadata: tuple[Call, ...]  # sent together, before any data
    data: tuple[Call, ...]  # sent at once, queued on the browser's connections
    # What each further tab sends when a reader first clicks it (its charts, and the values of filters
    # that come into scope with it); not part of an open. Empty for a dashboard without tabs.
    tabs: tuple[tuple[Call, ...], ...] = ()


def filter_values_body(column: str, dataset_id: int, ascending: bool, force: bool) -> dict[str, Any]:
    """The query a select filter sends for its values (columns only: a distinct list, sorted)."""
    return {
        "datasource": {"id": dataset_id, "type": "table"},
        "force": force,
        "queries": [{"columns": [column], "metrics": [], "orderby": [[column, ascending]], "filters": [],
                     "extras": {"where": "", "having": ""}, "row_limit": 1000}],
        "result_format": "json",
        "result_type": "full",
    }


def dashboard_opens(admin, bundle_dir: Path, force: bool) -> list[DashboardOpen]:
    """READER_MODEL for each dashboard of the bundle."""
    from spw.superset import queries

    ds = {d["uuid"]: d["id"] for d in admin.list_all("dataset", ["id", "uuid"])}
    slices = {c["uuid"]: c["id"] for c in admin.list_all("chart", ["id", "uuid"])}
    dash_ids = {d["slug"]: d["id"] for d in admin.list_all("dashboard", ["id", "slug"])}
    charts = {c.uuid: c for c in queries.bundle_charts(bundle_dir)}
    opens = []
    for dash in queries.bundle_dashboards(bundle_dir):
        slug, did = dash["slug"], dash_ids[dash["slug"]]
        tabs = queries.dashboard_tabs(dash)
        native = [f for f in dash["metadata"].get("native_filter_configuration", [])
                  if f.get("filterType") == "filter_select"]

        def chart_call(node: dict, did: int = did) -> Call:
            c = charts[node["meta"]["uuid"]]
            form_data = quote(json.dumps({"slice_id": slices[c.uuid]}, separators=(",", ":")))
            return Call("chart", "POST", f"/api/v1/chart/data?form_data={form_data}&dashboard_id={did}",
                        queries.chart_data_body(c.params, ds[c.dataset_uuid], force=force))

        def filter_call(f: dict) -> Call:
            return Call("filter", "POST", "/api/v1/chart/data",
                        filter_values_body(f["targets"][0]["column"]["name"], ds[f["targets"][0]["datasetUuid"]],
                                           f.get("controlValues", {}).get("sortAscending", True), force))

        # Superset 6.1 asks for the data of the charts shown (the first tab's) and for the values of the
        # filters in scope of at least one of them; a further tab's charts, and the values of filters
        # that come into scope with it, when a reader first opens that tab (recorded in Chromium,
        # scripts/record_dashboard_requests.py --tabs).
        loaded: set[str] = set()
        per_tab: list[tuple[Call, ...]] = []
        for _, nodes in tabs:
            shown = {n["meta"]["chartId"] for n in nodes}
            new = [f for f in native if f["id"] not in loaded and shown - set(f["scope"]["excluded"])]
            loaded |= {f["id"] for f in new}
            per_tab.append((*(chart_call(n) for n in nodes), *(filter_call(f) for f in new)))
        datasets: list[int] = []
        for node in tabs[0][1]:
            if ds[charts[node["meta"]["uuid"]].dataset_uuid] not in datasets:
                datasets.append(ds[charts[node["meta"]["uuid"]].dataset_uuid])
        first_charts = [c for c in per_tab[0] if c.kind == "chart"]
        first_filters = [c for c in per_tab[0] if c.kind == "filter"]
        state = {f["id"]: {"id": f["id"], "extraFormData": {}, "filterState": {}, "ownState": {}}
                 for f in dash["metadata"].get("native_filter_configuration", [])}
        opens.append(DashboardOpen(
            slug,
            Call("page", "GET", f"/superset/dashboard/{slug}/"),
            (Call("metadata", "GET", f"/api/v1/dashboard/{slug}?q=(columns:!({DASHBOARD_COLUMNS}))"),
             Call("metadata", "GET", f"/api/v1/dashboard/{slug}/charts"),
             Call("metadata", "GET", f"/api/v1/dashboard/{slug}/datasets"),
             Call("metadata", "GET", f"/api/v1/dashboard/favorite_status/?q=!({did})")),
            (*first_charts,
             Call("other", "POST", f"/api/v1/dashboard/{did}/filter_state?tab_id=1", {"value": json.dumps(state)}),
             *[Call("drill", "GET", f"/api/v1/dataset/{i}/drill_info/?q=(dashboard_id:{did})") for i in datasets],
             *first_filters),
            tuple(per_tab[1:])))
    return opens


def may_drill(user: dict[str, Any]) -> bool:
    """Whether Superset 6.1's frontend asks for drill_info on a dashboard open (its useDatasetDrillInfo
    runs unless the login can neither drill to detail nor drill by), from /api/v1/me/roles/."""
    held = {(p, v) for perms in user["roles"].values() for p, v in perms}
    info = ("can_get_drill_info", "Dataset") in held
    drill = ("can_explore", "Superset") in held or ("can_drill", "Dashboard") in held
    return info and drill and (("can_samples", "Datasource") in held
                               or ("can_write", "ExploreFormDataRestApi") in held)


class Browser:
    """One reader's browser: a form login (session cookie, CSRF token) and 6 connections, from its own
    loopback address (each reader is a different client to Superset's per-address limits, as people are)."""

    def __init__(self, base_url: str, username: str, password: str, address: str) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        class FromAddress(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                kwargs["source_address"] = (address, 0)
                super().init_poolmanager(*args, **kwargs)

        self.base_url, self.username = base_url, username
        self.session = requests.Session()
        # A browser sends a request again, once, when a kept-alive connection turns out to have been
        # closed by the server (gunicorn closes idle ones after 2 s); counted in `retries`.
        again = Retry(total=1, connect=1, read=1, status=0, other=0, allowed_methods=None, raise_on_status=False)
        self.session.mount("http://", FromAddress(pool_connections=1, pool_maxsize=BROWSER_CONNECTIONS,
                                                  pool_block=True, max_retries=again))
        page = self.session.get(f"{base_url}/login/", timeout=60).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        self.session.post(f"{base_url}/login/", timeout=60,
                          data={"username": username, "password": password, "csrf_token": token})
        csrf = self.session.get(f"{base_url}/api/v1/security/csrf_token/", timeout=60)
        if csrf.status_code != 200:
            raise SystemExit(f"form login failed for {username}: HTTP {csrf.status_code}")
        self.session.headers.update({"X-CSRFToken": csrf.json()["result"], "Referer": base_url})
        self.drills = may_drill(self.session.get(f"{base_url}/api/v1/me/roles/", timeout=60).json()["result"])
        self.pool = ThreadPoolExecutor(max_workers=BROWSER_CONNECTIONS)
        self.retries = 0
        self._lock = threading.Lock()

    def send(self, call: Call) -> tuple[Call, float, bool]:
        """(call, milliseconds from sending to the whole response, ok)."""
        import requests

        t0 = time.perf_counter()
        try:
            resp = self.session.request(call.method, f"{self.base_url}{call.path}", json=call.body, timeout=120,
                                        allow_redirects=False)
        except requests.RequestException:
            return call, (time.perf_counter() - t0) * 1000, False
        retried = getattr(resp.raw, "retries", None)
        if retried is not None and retried.history:
            with self._lock:
                self.retries += 1
        return call, (time.perf_counter() - t0) * 1000, resp.status_code < 300

    def send_all(self, calls: tuple[Call, ...]) -> list[tuple[Call, float, bool]]:
        """Every call at once, as the page asks; the connections take them in order, 6 at a time.
        Drill lookups only for a login that may drill, as the frontend does."""
        return list(self.pool.map(self.send, [c for c in calls if c.kind != "drill" or self.drills]))

    def close(self) -> None:
        self.pool.shutdown()
        self.session.close()


@dataclass
class ReaderResult:
    users: int
    mode: str
    opens: int
    requests: int
    errors: int
    chart_p50_ms: float
    chart_p95_ms: float
    all_p95_ms: float
    open_p50_ms: float
    open_p95_ms: float
    seconds: float
    load: float
    run: int = 1
    cpu_ms: float = float("nan")
    by_slug: dict[str, int] = field(default_factory=dict)
    retries: int = 0  # requests sent again on a new connection (see Browser)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_readers(browsers: list[Browser], opens: list[DashboardOpen], users: int, seconds: float, mode: str,
                seed: int) -> ReaderResult:
    """`users` readers for `seconds`: open a dashboard, read for a think time, again; arrivals spread
    over the first think time. An open begun before the end is finished and counted."""
    lock = threading.Lock()
    chart_ms: list[float] = []
    all_ms: list[float] = []
    open_ms: list[float] = []
    errors = 0
    by_slug: dict[str, int] = {}
    began = time.perf_counter()
    end = began + seconds

    def reader(i: int) -> None:
        nonlocal errors
        rng = random.Random(seed * 1000 + i)
        browser = browsers[i]
        time.sleep(rng.uniform(0, THINK_SECONDS[1]))
        while time.perf_counter() < end:
            dash = rng.choice(opens)
            t0 = time.perf_counter()
            done = [browser.send(dash.page), *browser.send_all(dash.metadata), *browser.send_all(dash.data)]
            took = (time.perf_counter() - t0) * 1000
            with lock:
                open_ms.append(took)
                by_slug[dash.slug] = by_slug.get(dash.slug, 0) + 1
                for call, ms, ok in done:
                    all_ms.append(ms)
                    if call.kind in CHART_DATA:
                        chart_ms.append(ms)
                    errors += not ok
            time.sleep(max(0.0, min(rng.uniform(*THINK_SECONDS), end - time.perf_counter())))

    roots = _server_roots()
    cpu0 = server_cpu_seconds(roots)
    retries0 = sum(b.retries for b in browsers)
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(reader, range(users)))
    took = time.perf_counter() - began
    cpu = (server_cpu_seconds(roots) - cpu0) * 1000 / max(1, len(all_ms))
    return ReaderResult(users, mode, len(open_ms), len(all_ms), errors, _percentile(chart_ms, 50),
                        _percentile(chart_ms, 95), _percentile(all_ms, 95), _percentile(open_ms, 50),
                        _percentile(open_ms, 95), took, os.getloadavg()[0], cpu_ms=cpu, by_slug=by_slug,
                        retries=sum(b.retries for b in browsers) - retries0)


# ---------------------------------------------------------------- opens: what one open costs the server


def call_label(call: Call) -> str:
    """What a call is, for the cost of an open: chart, filter, drill, datasets, page, ..."""
    if call.kind in ("chart", "filter", "drill", "page"):
        return call.kind
    if call.kind == "metadata":
        for part in ("/datasets", "/charts", "favorite_status"):
            if part in call.path:
                return part.strip("/").replace("favorite_status", "favourite")
        return "dashboard"
    return "filter state" if "filter_state" in call.path else "other"


def open_costs(browser: Browser, opens: list[DashboardOpen], repeats: int) -> dict[str, dict[str, list[float]]]:
    """One reader opens each dashboard `repeats` times, one request at a time, after one open to warm
    the result cache: server CPU ms of each request (gunicorn and Postgres, from /proc), by slug and label.
    /proc counts in clock ticks (10 ms), so a single figure is coarse; the mean over many is not."""
    roots = _server_roots()
    costs: dict[str, dict[str, list[float]]] = {}
    for dash in opens:
        calls = [dash.page, *dash.metadata, *[c for c in dash.data if c.kind != "drill" or browser.drills]]
        further = [c for tab in dash.tabs for c in tab]
        for c in (*calls, *further):  # warm: results cached, connections open
            browser.send(c)
        for name, sent in ((dash.slug, calls), (f"{dash.slug} further tabs", further)):
            per = costs.setdefault(name, {}) if sent else {}
            for _ in range(repeats):
                for c in sent:
                    cpu0 = server_cpu_seconds(roots)
                    _, _, ok = browser.send(c)
                    if not ok:
                        raise SystemExit(f"{dash.slug}: {c.method} {c.path[:80]} failed")
                    per.setdefault(call_label(c), []).append((server_cpu_seconds(roots) - cpu0) * 1000)
    return costs


def render_open_costs(costs: dict[str, dict[str, list[float]]], user: str, repeats: int) -> str:
    labels = ("chart", "filter", "drill", "datasets", "page", "dashboard", "charts", "favourite", "filter state")
    head = ("| dashboard | requests per open | " + " | ".join(f"`{x}`" if x != "chart" else "chart-data (charts)"
                                                   for x in labels) + " | CPU per open |")
    lines = [f"Server CPU per open, one request at a time, result cache warm, `{user}`, {repeats} opens per "
             f"dashboard ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.1f}); each cell: "
             "requests per open x mean ms", "", head, "|---|" + "---:|" * (len(labels) + 2)]
    total, every = 0.0, 0.0
    opens = [slug for slug in costs if not slug.endswith(" further tabs")]
    for slug, per in costs.items():
        n = {k: len(v) // repeats for k, v in per.items()}
        ms = {k: statistics.fmean(v) for k, v in per.items()}
        per_open = sum(sum(v) for v in per.values()) / repeats / 1000
        every += per_open
        total += 0 if slug.endswith(" further tabs") else per_open
        cells = [f"{n[k]} x {ms[k]:.0f}" if k in per else "" for k in labels]
        name = f"`{slug.removesuffix(' further tabs')}`" + (", every further tab once" if slug not in opens else "")
        lines.append(f"| {name} | {sum(n.values())} | " + " | ".join(cells) + f" | {per_open:.2f} s |")
    lines += ["", f"Mean over the {len(opens)} dashboards: {total / max(1, len(opens)):.2f} s of server CPU per open"
              + (f"; {every / max(1, len(opens)):.2f} s for a reader who also opens every further tab."
                 if len(costs) > len(opens) else ".")]
    return "\n".join(lines)


# ---------------------------------------------------------------- sizes


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


# ---------------------------------------------------------------- report


def _describe_opens(opens: list[DashboardOpen]) -> str:
    return "; ".join(f"`{o.slug}` {1 + len(o.metadata) + sum(c.kind != 'drill' for c in o.data)} "
                     f"({_count(sum(c.kind == 'chart' for c in o.data), 'chart')}, "
                     f"{_count(sum(c.kind == 'filter' for c in o.data), 'filter')}; "
                     f"+{sum(c.kind == 'drill' for c in o.data)} drill lookups)" for o in opens)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def render(results: list[LevelResult], readers: list[ReaderResult], sizes: dict[str, int], patients: int | None,
           pcns: int, n_bodies: int, workers: str, opens: list[DashboardOpen], reader_seconds: float) -> str:
    loads = [r.load for r in results] + [r.load for r in readers]
    runs = max([r.run for r in results] + [r.run for r in readers])
    lines = [
        SECTION, "",
        f"`benchmarks/bench_dashboards.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other work (1-minute load average {min(loads):.1f} to "
        f"{max(loads):.1f} during the runs); Superset {workers}, Postgres on the same machine, loopback only; "
        f"{runs} run{'s' if runs > 1 else ''}.",
        "",
        f"Warehouse: {patients if patients is not None else 'unknown'} synthetic patients in {pcns} PCNs. The "
        "dashboards read only the published tables, whose size follows the number of areas and months rather "
        "than patients: " + ", ".join(f"`{t}` {n:,}" for t, n in sizes.items()) + " rows.",
        "",
        "Every simulated user is logged in as a demo account (regional steering groups, NHS England, analyst), "
        "so row-level security is applied to every query. *Forced* sends every chart-data query to the "
        "warehouse (`force: true`), the worst case. *Realistic* sends them as the dashboards do, so "
        "Superset's result cache, shared by the users of a region, answers repeats. *Server CPU ms* is the CPU "
        "time Superset's gunicorn processes and the local Postgres cluster used per request, which does not "
        "depend on what else the machine runs.",
        "",
    ]
    if readers:
        lines += [
            "### Readers (the user model)",
            "",
            f"Each reader logs in through the login form and then, for {reader_seconds:.0f} s, opens one of "
            "the four dashboards at random, sending the requests Superset 6.1's frontend sends to open it "
            "(recorded from Chromium): the page; the dashboard, its charts, its datasets and its favourite "
            "status; then at once a chart-data request per chart shown (a dashboard with tabs: its first tab's), "
            "the filter state, a chart-data request per native filter in scope of them for its values and, "
            "for a login that may drill (of the demo logins the analyst "
            "only: the readers' `spw_reader` role holds no drill permission), a drill lookup (`drill_info`) "
            f"per dataset, at most {BROWSER_CONNECTIONS} at a time (a browser's limit per host). Requests per "
            f"open: {_describe_opens(opens)}. Then the reader reads for a think time drawn uniformly from "
            f"{THINK_SECONDS[0]:.0f} to {THINK_SECONDS[1]:.0f} s (the short end of reading a dashboard of 4 "
            "to 23 charts and tables; chosen before measuring) and opens another. Readers arrive spread "
            "over the first think time. Realistic levels start with an empty result cache, as after a "
            "pipeline run. A request's time is from sending it to its whole response (as load-testing tools "
            "count it); waiting for one of the browser's connections is in the *open* time, from asking for "
            "the page to the last response. *Retried*: requests sent again, once, because the kept-alive "
            "connection they went out on had just been closed by the server, as a browser does.",
            "",
            "| run | mode | readers | opens | requests | errors | retried | chart-data p50 ms | chart-data p95 ms | "
            "all requests p95 ms | open p50 ms | open p95 ms | requests/s | server CPU ms | load avg |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in readers:
            lines.append(f"| {r.run} | {r.mode} | {r.users} | {r.opens} | {r.requests} | {r.errors} | {r.retries} | "
                         f"{r.chart_p50_ms:.0f} | {r.chart_p95_ms:.0f} | {r.all_p95_ms:.0f} | {r.open_p50_ms:.0f} | "
                         f"{r.open_p95_ms:.0f} | {r.per_second:.1f} | {r.cpu_ms:.0f} | {r.load:.1f} |")
        lines.append("")
        for mode in ("realistic", "forced"):
            fifty = [r for r in readers if r.users == 50 and r.mode == mode]
            if fifty:
                met = sum(r.chart_p95_ms < 1000 and r.errors == 0 for r in fifty)
                lines.append(f"Target p95 < 1 s at 50 concurrent readers, per chart-data request, {mode}: "
                             f"**met in {met} of {len(fifty)} runs** (p95 "
                             f"{', '.join(f'{r.chart_p95_ms:.0f}' for r in fifty)} ms; dashboard open p95 "
                             f"{', '.join(f'{r.open_p95_ms:.0f}' for r in fifty)} ms).")
                lines.append("")
    if results:
        lines += [
            "### Stress (no think time)",
            "",
            f"Each user posts the {n_bodies} chart queries of the four dashboards (`/api/v1/chart/data`) in "
            "dashboard order, each the moment the previous one returns. In realistic mode the cache is emptied "
            "first; the first pass (every chart once per account, 10 users) is shown as *cache empty*, then 1, "
            "10 and 50 users. Long tables page on the server (50 rows and a row count per request), as the "
            "dashboards do.",
            "",
            "| run | mode | users | requests | errors | p50 ms | p95 ms | max ms | requests/s | server CPU ms "
            "| load avg |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results:
            lines.append(f"| {r.run} | {r.mode} | {r.users} | {r.requests} | {r.errors} | {r.p50_ms:.0f} | "
                         f"{r.p95_ms:.0f} | {r.max_ms:.0f} | {r.per_second:.1f} | {r.cpu_ms:.0f} | {r.load:.1f} |")
        lines.append("")
        for mode in ("realistic", "forced"):
            ten = [r for r in results if r.users == 10 and r.mode == mode]
            met = sum(r.p95_ms < 1000 and r.errors == 0 for r in ten)
            lines.append(f"Target p95 < 1 s at 10 concurrent users without think time, {mode}: "
                         f"**met in {met} of {len(ten)} runs** (p95 {', '.join(f'{r.p95_ms:.0f}' for r in ten)} ms).")
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


def _stress(clients: list, admin, bundle_dir: Path, args: argparse.Namespace, run: int) -> list[LevelResult]:
    from spw.superset import server

    results = []
    for mode in ("forced", "realistic"):
        bodies = _bodies(admin, bundle_dir, force=mode == "forced")
        plan = [(u, args.requests, mode) for u in args.levels]
        if mode == "realistic":  # forced queries refresh cached results too: start empty
            server.clear_result_cache()
            plan.insert(0, (min(len(clients), 10), len(bodies) * min(len(clients), 10), "realistic, cache empty"))
        for users, total, label in plan:
            r = run_level(clients, bodies, users, total, label)
            r.run = run
            results.append(r)
            print(f"run {run} {users:>3} users {label:>22}: p50 {r.p50_ms:.0f} ms, p95 {r.p95_ms:.0f} ms, "
                  f"max {r.max_ms:.0f} ms, {r.errors} errors, {r.per_second:.1f} req/s, "
                  f"server CPU {r.cpu_ms:.0f} ms/request, load {r.load:.1f}", flush=True)
    return results


def _readers(browsers: list[Browser], admin, bundle_dir: Path, args: argparse.Namespace,
             run: int) -> list[ReaderResult]:
    from spw.superset import server

    results = []
    for mode in ("realistic", "forced"):
        opens = dashboard_opens(admin, bundle_dir, force=mode == "forced")
        for users in args.readers:
            if mode == "realistic":
                server.clear_result_cache()
            r = run_readers(browsers, opens, users, args.reader_seconds, mode, seed=run * 100 + users)
            r.run = run
            results.append(r)
            print(f"run {run} {users:>3} readers {mode:>9}: {r.opens} opens {r.by_slug}, {r.requests} requests, "
                  f"{r.errors} errors, {r.retries} retried; chart-data p50 {r.chart_p50_ms:.0f} ms, "
                  f"p95 {r.chart_p95_ms:.0f} ms; "
                  f"all p95 {r.all_p95_ms:.0f} ms; open p50 {r.open_p50_ms:.0f} ms, p95 {r.open_p95_ms:.0f} ms; "
                  f"server CPU {r.cpu_ms:.0f} ms/request, load {r.load:.1f}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="*", choices=("stress", "readers", "opens"), default=["stress", "readers"])
    parser.add_argument("--open-user", default="region_y60", help="login for --parts opens")
    parser.add_argument("--open-repeats", type=int, default=5, help="opens per dashboard for --parts opens")
    parser.add_argument("--requests", type=int, default=300, help="requests per stress level (bounded)")
    parser.add_argument("--levels", type=int, nargs="*", default=list(LEVELS), help="stress users per level")
    parser.add_argument("--readers", type=int, nargs="*", default=list(READER_LEVELS), help="readers per level")
    parser.add_argument("--reader-seconds", type=float, default=180.0, help="how long each readers level runs")
    parser.add_argument("--runs", type=int, default=1, help="repeat everything this many times")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    from spw.superset import bundle, security, server
    from spw.superset.api import SupersetClient

    started = server.running_pid() is None
    if started:
        bundle.import_all(demo_users=True)  # the benchmark logs in as the demo users
        server.start()
    browsers: list[Browser] = []
    try:
        url = server.base_url()
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit("refusing to benchmark anything but loopback")
        passwords = json.loads(security.users_file().read_text())
        admin = SupersetClient(url, "admin", passwords["admin"])
        clients = []
        if "stress" in args.parts:
            for i in range(max(args.levels)):
                clients.append(SupersetClient(url, USERS[i % len(USERS)], passwords[USERS[i % len(USERS)]]))
                time.sleep(0.15)  # stay under the login rate limit
        if "readers" in args.parts:
            # 127.0.0.11, .12, ...: each reader its own client address, so no login waits on another's
            browsers = [Browser(url, USERS[i % len(USERS)], passwords[USERS[i % len(USERS)]], f"127.0.0.{11 + i}")
                        for i in range(max(args.readers))]
        if "opens" in args.parts:
            one = Browser(url, args.open_user, passwords[args.open_user], "127.0.0.9")
            try:
                costs = open_costs(one, dashboard_opens(admin, bundle.bundle_dir(), force=False), args.open_repeats)
            finally:
                one.close()
            print(render_open_costs(costs, args.open_user, args.open_repeats), flush=True)
            if args.parts == ["opens"]:
                return 0
        results: list[LevelResult] = []
        readers: list[ReaderResult] = []
        for run in range(1, args.runs + 1):
            if "stress" in args.parts:
                results += _stress(clients, admin, bundle.bundle_dir(), args, run)
            if "readers" in args.parts:
                readers += _readers(browsers, admin, bundle.bundle_dir(), args, run)
        text = render(results, readers, published_sizes(), patients_in_warehouse(), pcns_in_warehouse(),
                      len(_bodies(admin, bundle.bundle_dir(), force=False)),
                      "gunicorn {} workers x {} threads".format(*server.gunicorn_shape()),
                      dashboard_opens(admin, bundle.bundle_dir(), force=False), args.reader_seconds)
        print(text)
        if not args.no_write:
            write_section(text)
        return 0 if all(r.errors == 0 for r in results) and all(r.errors == 0 for r in readers) else 1
    finally:
        for b in browsers:
            b.close()
        if started:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
