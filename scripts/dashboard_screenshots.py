"""Re-take the dashboard screenshots in docs/img from the demo, as people see them.

Opens every dashboard in headless Chromium as the Midlands steering group (`region_y60`) and as NHS
England (`nhse`), waits until every chart has rendered, saves `docs/img/<slug>.png` and
`docs/img/<slug>-nhs-england.png` (a dashboard with tabs: its first tab; `<slug>[-nhs-england]-tab<N>.png`
the others), and runs axe-core on each page as the browser tests do (fails on a
serious or critical violation in what the project configures).

    SPW_HOME=... .spw/venvs/airflow/bin/python scripts/dashboard_screenshots.py

Needs `make demo` (warehouse, demo users) and a running Superset (`spw serve`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from superset_helpers import browser, check_dashboard, login, run_axe  # noqa: E402

from spw.superset import queries, security, server  # noqa: E402

OUT = REPO / "docs" / "img"
VIEWERS = (("region_y60", ""), ("nhse", "-nhs-england"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slug", action="append", help="only this dashboard (repeatable)")
    parser.add_argument("--user", action="append", choices=[u for u, _ in VIEWERS], help="only this viewer")
    args = parser.parse_args(argv)
    url = server.base_url()
    passwords = json.loads(security.users_file().read_text())
    problems = []
    for user, suffix in VIEWERS:
        if args.user and user not in args.user:
            continue
        driver = browser()
        try:
            login(driver, url, user, passwords[user])
            for dash in queries.bundle_dashboards(REPO / "dashboards" / "bundle"):
                if args.slug and dash["slug"] not in args.slug:
                    continue
                tabs = queries.dashboard_tabs(dash)
                n = sum(len(c) for _, c in tabs)
                found: list = []
                result = check_dashboard(driver, url, dash["slug"], n, OUT / f"{dash['slug']}{suffix}.png",
                                         tabs=[(t, len(c)) for t, c in tabs] if tabs[0][0] else None,
                                         on_tab=lambda _i, _t, found=found, d=driver: found.extend(run_axe(d)))
                ours = [f"{f.rule} ({f.impact}) at {f.targets[:2]}" for f in found
                        if f.in_project_scope and f.impact in ("serious", "critical")]
                print(f"{user} {dash['slug']}: {result.charts_rendered}/{n} charts, {result.seconds:.0f} s, "
                      f"errors {result.errors or 'none'}, axe (ours, serious/critical) {ours or 'none'}")
                problems += [f"{user} {dash['slug']}: {p}" for p in [*result.errors, *ours]]
                if result.charts_rendered != n:
                    problems.append(f"{user} {dash['slug']}: {result.charts_rendered}/{n} charts rendered")
        finally:
            driver.quit()
    print("\n".join(problems) or "all dashboards rendered, no serious or critical violation of ours")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
