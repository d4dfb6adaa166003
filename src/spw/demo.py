"""`make demo`: database, synthetic extracts, pipeline, docs, dashboards; then where to look."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from spw import db, pg
from spw.config import landing_dir
from spw.errors import SpwError
from spw.secrets import json_secret_file

Progress = Callable[[str], AbstractContextManager[None]]
# The demo is a scaled-down England (every region; list sizes = the synthetic patients registered), so
# rates per 1,000, caseloads and progress against the pro-rata ambition read as they would nationally.
DEMO_LAYOUT = "england"
DEMO_REPORT_REGION = "Y60"  # Midlands: the steering group the issue was written for

# the primary estimate (methods §4b): referred people against people not yet referred
PRIMARY_SQL = """
select measure, n_treated, att, att_ci_low, att_ci_high, att_pct, att_pct_ci_low, att_pct_ci_high
from marts.mart_staggered_did
where geography_level = 'england' and cohort_fy = 'all' and population = 'referred'
  and estimate = 'cumulative_12m'
order by measure
"""

SCALE_SQL = """
select registered_population, people_per_registered_patient
from marts.mart_population_scale
where geography_level = 'england'
"""

HEADLINE_SQL = """
select measure, n_patients, pct_change, did_pct, did_pct_ci_low, did_pct_ci_high
from marts.mart_demand_reduction
where design = 'gloucestershire' and geography_level = 'england' and cohort_fy = 'all'
  and population = 'engaged' and subgroup = 'all' and window_months = 12
order by measure
"""


def _synth_if_needed(out: Path, patients: int, seed: int, progress: Progress) -> None:
    """Generate once; a second demo re-uses the folder (same seed and size -> same files)."""
    from spw.synth import generate

    marker = out / ".spw-demo.json"
    wanted = {"patients": patients, "seed": seed, "layout": DEMO_LAYOUT}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return
    with progress(f"synthetic England ({patients:,} patients) -> {out}"):
        generate(out, patients=patients, seed=seed, overwrite=True, layout=DEMO_LAYOUT)
    marker.write_text(json.dumps(wanted))


def _pct(v: object) -> str:
    return "n/a" if v is None else f"{float(v):+.1f}%"  # type: ignore[arg-type]


def _nothing_new(landing: Path) -> bool:
    """True when every landed file is already in the ledger, the marts exist and the last build's
    published tables were swapped in: a re-run of the pipeline would load nothing, so a second
    `make demo` skips it. A build whose published tables failed (they wait in published_shadow)
    is not skipped, so the next `make demo` builds again instead of serving the old tables."""
    import hashlib

    files = sorted(p for p in landing.glob("*/*.csv") if not p.name.startswith("."))
    with db.connect("warehouse") as conn:
        # pg_tables lists every schema's tables whatever the role may read
        built, waiting = conn.execute(
            "select to_regclass('marts.mart_demand_reduction') is not null, "
            "(select count(*) from pg_tables where schemaname = 'published_shadow')").fetchone()
        if not built or waiting:
            return False
        known = {r[0] for r in conn.execute("select distinct sha256 from audit.file_loads")}
    return all(hashlib.sha256(p.read_bytes()).hexdigest() in known for p in files)


def _num(v: object) -> str:
    return "n/a" if v is None else f"{float(v):+.2f}"  # type: ignore[arg-type]


def headline_figures() -> list[str]:
    with db.connect("warehouse", "spw_analyst") as conn:
        primary = conn.execute(PRIMARY_SQL).fetchall()
        rows = conn.execute(HEADLINE_SQL).fetchall()
        scale = conn.execute(SCALE_SQL).fetchone()
    lines = []
    if scale and scale[1]:
        lines += [f"Synthetic England: {scale[0]:,} registered patients, each standing for "
                  f"{float(scale[1]):,.0f} people (mart_population_scale)", ""]
    lines += ["Primary estimate: staggered DiD, England, referred, per person over the 12 months after referral:"]
    for measure, n, att, lo, hi, pct, plo, phi in primary:
        lines.append(f"  {measure:<22} n={n or 0:<6} {_num(att):>7} [{_num(lo)}, {_num(hi)}]   "
                     f"{_pct(pct):>8} [{_pct(plo)}, {_pct(phi)}]")
    lines.append("")
    lines.append("Gloucestershire design, England, engaged, 12 months (before/after vs matched DiD):")
    for measure, n, pct, did, lo, hi in rows:
        lines.append(f"  {measure:<22} n={n:<6} before/after {_pct(pct):>8}   matched DiD {_pct(did):>8} "
                     f"[{_pct(lo)}, {_pct(hi)}]")
    return lines


def write_board_pack(region: str) -> Path:
    """The steering group's PDF for the latest complete quarter, read as the region's BI login."""
    from spw import report_data, report_pdf

    quarter = report_data.latest_quarter(region)
    out = landing_dir().parent / "reports" / f"board-pack-{region}-{quarter.code}.pdf"
    return report_pdf.write(report_data.load(region, quarter), out)


def run_demo(patients: int, seed: int, progress: Progress) -> int:
    from spw.dbtrun import run_dbt
    from spw.deployment import up
    from spw.pipeline import run_pipeline, start_airflow_ui
    from spw.runlock import exclusive_pipeline
    from spw.superset import server
    from spw.superset.bundle import import_all

    up(progress)
    landing = landing_dir()
    _synth_if_needed(landing, patients, seed, progress)
    if _nothing_new(landing):
        print(f"every file in {landing} is already loaded and the marts are built: pipeline skipped")
    else:
        with exclusive_pipeline("demo") as holder:
            failed = run_pipeline(landing, progress=progress, lock_holder=holder)
        if failed:
            raise SpwError("pipeline task(s) failed: " + "; ".join(failed))
        with progress("dbt docs generate"):
            run_dbt(["docs", "generate"], capture=True)
    with progress(f"board pack for the {DEMO_REPORT_REGION} steering group (PDF)"):
        report = write_board_pack(DEMO_REPORT_REGION)
    with progress("Superset: start"):
        superset_url = server.serve()
    with progress("Superset: dashboards, roles, row-level security, demo users"):
        import_all(demo_users=True)
    users_file = json_secret_file("superset_users.json")
    with progress("Airflow UI: start"):
        airflow_url = start_airflow_ui()
    print()
    print(f"Superset dashboards: {superset_url}   (logins below)")
    airflow_pw = json_secret_file("airflow_passwords.json")
    print(f"Airflow UI:          {airflow_url}   (user admin, password in {airflow_pw})")
    print(f"dbt docs:            {Path('dbt_project/target/index.html').resolve()}")
    print(f"Board pack (PDF):    {report}   (spw report --region CODE --quarter YYYY-Qn --out FILE.pdf)")
    print(f"Warehouse (psql):    spw db-url --role spw_analyst   ({'external' if pg.external_url() else 'local'})")
    print(f"Superset users:      (from {users_file})")
    for name, password in json.loads(users_file.read_text()).items():
        print(f"  {name:<12} {password}")
    print()
    for line in headline_figures():
        print(line)
    print("\nStop everything with: .spw/venvs/airflow/bin/spw down   (or `make down`)")
    return 0
