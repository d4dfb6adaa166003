"""Record what Superset's frontend sends to open each dashboard, from headless Chromium's network log.

The reader model of benchmarks/bench_dashboards.py (READER_MODEL) is written from this: log in as a
demo user, open each dashboard as a reader does (wait until the charts shown have rendered, then a few
seconds more), and list every request to Superset after the page itself, with its status. Static files
are left out (a browser caches them). `--tabs` also clicks each further tab and lists what that sends.

    SPW_HOME=... .spw/venvs/airflow/bin/python scripts/record_dashboard_requests.py [--user region_y60]
        [--slug regional-steering-group] [--tabs]

Needs `make demo` (warehouse, demo users) and a running Superset (`spw serve`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from superset_helpers import _open_tab, _wait_for_charts, browser, login  # noqa: E402

from spw.superset import queries, security, server  # noqa: E402

SETTLE_SECONDS = 4.0  # after the last chart has rendered: late requests (filter state, ...) are counted


def requests_sent(driver, base_url: str) -> list[tuple[str, str, int | None]]:
    """(method, path with query, status) of every request to Superset since the last call, in order."""
    sent: dict[str, list] = {}
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent" and params["request"]["url"].startswith(base_url):
            url = urlsplit(params["request"]["url"])
            if "/static/" not in url.path:
                sent[params["requestId"]] = [params["request"]["method"],
                                             url.path + (f"?{url.query}" if url.query else ""), None]
        elif msg["method"] == "Network.responseReceived" and params["requestId"] in sent:
            sent[params["requestId"]][2] = params["response"]["status"]
    return [tuple(v) for v in sent.values()]


def kind(method: str, path: str) -> str:
    if path.startswith("/api/v1/chart/data"):
        return "chart-data (chart)" if "form_data=" in path else "chart-data (filter values)"
    if "drill_info" in path:
        return "drill_info"
    return f"{method} {path.split('?')[0]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="region_y60")
    parser.add_argument("--slug", action="append", help="only this dashboard (repeatable)")
    parser.add_argument("--tabs", action="store_true", help="also open each further tab")
    parser.add_argument("--list", action="store_true", help="print every request, not only the counts")
    args = parser.parse_args(argv)
    url = server.base_url()
    passwords = json.loads(security.users_file().read_text())
    driver = browser(network_log=True)
    try:
        login(driver, url, args.user, passwords[args.user])
        for dash in queries.bundle_dashboards(REPO / "dashboards" / "bundle"):
            if args.slug and dash["slug"] not in args.slug:
                continue
            tabs = queries.dashboard_tabs(dash)
            requests_sent(driver, url)  # drop what came before
            driver.get(f"{url}/superset/dashboard/{dash['slug']}/")
            for i, (title, charts) in enumerate(tabs if args.tabs else tabs[:1]):
                if i:
                    _open_tab(driver, title, time.monotonic() + 60)
                _wait_for_charts(driver, len(charts), time.monotonic() + 120, visible_only=bool(title))
                time.sleep(SETTLE_SECONDS)
                sent = requests_sent(driver, url)
                counts = Counter(kind(m, p) for m, p, _ in sent)
                refused = [(m, p, s) for m, p, s in sent if s is None or s >= 300]
                what = "open" if not i else f"tab {title!r}"
                print(f"{args.user} {dash['slug']} {what}: {len(sent)} requests, {len(charts)} charts shown; "
                      + ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
                      + (f"; not 2xx: {refused}" if refused else ""), flush=True)
                if args.list:
                    for m, p, s in sent:
                        print(f"    {s} {m} {p[:160]}")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
