"""Helpers for the Superset tests: a warehouse with published tables, chart queries, headless Chromium."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spw.superset import queries
from spw.superset.api import SupersetClient

CHROMEDRIVER = "/usr/bin/chromedriver"


def build_warehouse(landing: Path, patients: int = 1500, seed: int = 7) -> None:
    """Synthetic deliveries -> loader -> dbt build: the same pipeline `make demo` runs, kept small."""
    from spw.dbtrun import run_dbt
    from spw.ingest import contract
    from spw.ingest.loader import load_source
    from spw.synth.generator import generate

    if landing.exists():
        shutil.rmtree(landing)
    generate(landing, patients=patients, seed=seed)
    for source in contract.SOURCE_NAMES:
        load_source(None, landing, source)
    # Failing data tests elsewhere must not hide what the dashboards need; the caller checks the tables.
    run_dbt(["build"], check=False)


def dataset_ids(admin: SupersetClient) -> dict[str, int]:
    """uuid -> id of every dataset Superset holds."""
    return {d["uuid"]: d["id"] for d in admin.list_all("dataset", ["id", "uuid"])}


def chart_data(api: SupersetClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = api.session.post(f"{api.base_url}/api/v1/chart/data", json=body, timeout=api.timeout)
    return resp.status_code, (resp.json() if resp.content else {})


def rows_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return payload["result"][0]["data"]


def data_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows carrying any value: an aggregate over no rows comes back as one all-NULL row."""
    return [r for r in rows if any(v is not None for v in r.values())]


def raw_rows(api: SupersetClient, dataset_id: int, columns: list[str], limit: int = 100000) -> list[tuple]:
    """Every row of a dataset (chosen columns) as the user is allowed to see it."""
    body = {"datasource": {"id": dataset_id, "type": "table"}, "force": True, "result_format": "json",
            "result_type": "full",
            "queries": [{"columns": columns, "metrics": None, "filters": [], "row_limit": limit,
                         "extras": {"where": "", "having": ""}, "orderby": []}]}
    status, payload = chart_data(api, body)
    assert status == 200, f"{api.username}: raw query failed: {payload}"
    return [tuple(r[c] for c in columns) for r in rows_of(payload)]


def run_chart(api: SupersetClient, chart: queries.BundleChart, ds_ids: dict[str, int]) -> list[dict]:
    body = queries.chart_data_body(chart.params, ds_ids[chart.dataset_uuid], force=True)
    status, payload = chart_data(api, body)
    assert status == 200, f"{api.username}: chart {chart.name!r} failed: HTTP {status} {payload}"
    return rows_of(payload)


# ---------------------------------------------------------------- browser


@dataclass
class DashboardCheck:
    slug: str
    charts_expected: int
    charts_rendered: int
    errors: list[str]
    screenshot: Path
    seconds: float


def browser(network_log: bool = False):
    """Headless Chromium; `network_log` also records every request (Chrome's performance log)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1600,1200", "--hide-scrollbars",
                f"--user-data-dir={tempfile.mkdtemp(prefix='spw-chromium-')}"):
        opts.add_argument(arg)
    if network_log:
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def login(driver, base_url: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base_url}/login/")
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#username"))
    driver.find_element(By.CSS_SELECTOR, "#username").send_keys(username)
    driver.find_element(By.CSS_SELECTOR, "#password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "[data-test=login-button]").click()
    WebDriverWait(driver, 60).until(lambda d: "/login" not in d.current_url)


# Rendered content of a finished chart: a canvas/svg (ECharts), a table, a big number, or the
# "no results" notice; an error shows as an alert instead.
_RENDERED = "canvas, svg, table, .header-line, .superset-legacy-chart-big-number, [data-test=big-number]"
_ERROR_SELECTORS = (".ant-alert-error", "[role=alert]", "[data-test=error-tooltip]", ".alert-danger")
_ERROR_WORDS = ("Unexpected error", "error occurred", "Error:", "Traceback", "does not exist")


def check_dashboard(driver, base_url: str, slug: str, charts_expected: int, out: Path,
                    timeout: float = 120.0, tabs: list[tuple[str, int]] | None = None,
                    on_tab: Callable[[int, str], None] | None = None) -> DashboardCheck:
    """Open a dashboard, wait until every chart has finished loading, collect errors, screenshot.

    With `tabs` ((title, charts) of each top-level tab, queries.dashboard_tabs), each tab is opened in
    turn, as a reader clicks it (Superset asks for a tab's charts only then), and checked the same way:
    every chart of the tab rendered; `out` is the first tab's screenshot, `<out>-tab<N>.png` the others'.
    `on_tab(index, title)` runs while each tab is shown (axe-core, page text)."""
    from selenium.webdriver.common.by import By

    began = time.monotonic()
    driver.get(f"{base_url}/superset/dashboard/{slug}/")
    errors: list[str] = []
    rendered = 0
    for i, (title, expected) in enumerate(tabs or [("", charts_expected)]):
        if i:
            _open_tab(driver, title, began + timeout)
        holders = _wait_for_charts(driver, expected, began + timeout, visible_only=bool(tabs))
        for h in holders:
            name = _title(h)
            for sel in _ERROR_SELECTORS:
                errors += [f"{name}: {e.text[:200]}" for e in h.find_elements(By.CSS_SELECTOR, sel) if e.is_displayed()]
            errors += [f"{name}: {w}" for w in _ERROR_WORDS if w in h.text]
            if not _finished(h):
                errors.append(f"{name}: still loading after {timeout:.0f}s")
        got = sum(1 for h in holders if h.find_elements(By.CSS_SELECTOR, _RENDERED) or "No results" in h.text)
        if tabs and got != expected:
            errors.append(f"tab {title!r}: {got} of {expected} charts rendered")
        rendered += got
        _screenshot(driver, out if not i else out.with_name(f"{out.stem}-tab{i + 1}{out.suffix}"))
        if on_tab is not None:
            on_tab(i, title)
    return DashboardCheck(slug, charts_expected, rendered, sorted(set(errors)), out, time.monotonic() - began)


def _wait_for_charts(driver, expected: int, deadline: float, visible_only: bool) -> list:
    """The chart holders (of the shown tab) once `expected` of them have finished, or at the deadline."""
    from selenium.webdriver.common.by import By

    holders: list = []
    while time.monotonic() < deadline:
        holders = driver.find_elements(By.CSS_SELECTOR, ".dashboard-chart")
        if visible_only:
            holders = [h for h in holders if h.is_displayed()]
        if len(holders) >= expected and all(_finished(h) for h in holders):
            break
        _scroll_all_into_view(driver, holders)
        time.sleep(1.0)
    return holders


def _open_tab(driver, title: str, deadline: float) -> None:
    """Click the dashboard tab called `title`, as a reader does."""
    from selenium.webdriver.common.by import By

    xpath = f"//*[@role='tab'][normalize-space()='{title}']"
    while time.monotonic() < deadline:
        found = driver.find_elements(By.XPATH, xpath)
        if found:
            driver.execute_script("window.scrollTo(0, 0)")
            driver.execute_script("arguments[0].click()", found[0])
            time.sleep(1.0)
            return
        time.sleep(0.5)
    raise AssertionError(f"no dashboard tab {title!r}")


def _screenshot(driver, out: Path) -> None:
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 1200)")
    driver.set_window_size(1600, min(int(height) + 200, 9000))
    time.sleep(1.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out))
    driver.set_window_size(1600, 1200)


def _title(chart) -> str:
    """The chart's title from its header (the holder around the .dashboard-chart)."""
    holder = chart.find_element("xpath", "./ancestor::*[@data-test='dashboard-component-chart-holder'][1]")
    return (holder.text.splitlines() or ["?"])[0]


def _finished(holder) -> bool:
    from selenium.webdriver.common.by import By

    if holder.find_elements(By.CSS_SELECTOR, "[data-test=loading-indicator]"):
        return False
    return bool(holder.find_elements(By.CSS_SELECTOR, _RENDERED)) or "No results" in holder.text or any(
        holder.find_elements(By.CSS_SELECTOR, sel) for sel in _ERROR_SELECTORS)


def _scroll_all_into_view(driver, holders: list) -> None:
    """Charts below the fold render lazily: bring each into view once."""
    for h in holders:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", h)


# ---------------------------------------------------------------- accessibility (axe-core)

AXE_JS = Path(__file__).resolve().parents[1] / ".spw" / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.2 level A and AA, as the NHS service standard asks.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# What the project configures on a dashboard: the grid of charts and markdown (titles, descriptions,
# axes, legends, tables, sentences). The rest of the page (navigation bar, filter bar, header menus)
# is Superset's own and is reported separately.
PROJECT_SCOPE = ".grid-container"
# Inside the grid, Superset's own controls of each chart holder (its "..." menu, resize handles, the
# search-column select of server-paged tables), and
# the chart container element itself (not its content): Superset puts the chart's description in an
# aria-label on that plain div, which axe flags (aria-prohibited-attr) where the chart is a canvas.
SUPERSET_CONTROLS_IN_GRID = (".header-controls", ".resizable-container-handle", ".search-select-container")
SUPERSET_ELEMENTS_IN_GRID = (".dashboard-chart",)


@dataclass
class AxeFinding:
    rule: str
    impact: str
    help: str
    targets: list[str]
    in_project_scope: bool


def run_axe(driver) -> list[AxeFinding]:
    """axe-core on the open page (WCAG 2.2 A/AA rules); each violation's nodes split by whether they lie
    in what the project configures (PROJECT_SCOPE minus Superset's own controls) or in Superset's chrome."""
    driver.execute_script(AXE_JS.read_text())
    driver.set_script_timeout(120)
    result = driver.execute_async_script(_AXE_SCRIPT, AXE_TAGS, PROJECT_SCOPE, list(SUPERSET_CONTROLS_IN_GRID),
                                         list(SUPERSET_ELEMENTS_IN_GRID))
    if isinstance(result, dict) and "error" in result:
        raise RuntimeError(f"axe-core failed: {result['error']}")
    findings = []
    for v in result:
        for inside in (True, False):
            nodes = [n for n in v["nodes"] if n["project"] is inside]
            if nodes:
                impact = max((n["impact"] or v["impact"] or "minor" for n in nodes), key=_IMPACTS.index)
                findings.append(AxeFinding(v["id"], impact, v["help"], [n["target"] for n in nodes], inside))
    return findings


_IMPACTS = ["minor", "moderate", "serious", "critical"]
_AXE_SCRIPT = """
const [tags, scope, controls, elements, done] = arguments;
const inProject = selector => {
  const el = document.querySelector(selector);
  return !!el && !!el.closest(scope) && !controls.some(c => el.closest(c)) && !elements.some(e => el.matches(e));
};
axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
  .then(r => done(r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), impact: n.impact, project: inProject(n.target[0])})),
  }))))
  .catch(e => done({error: String(e)}));
"""
