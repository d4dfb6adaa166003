"""What the ingestion DAG's tasks do (dags/spw_ingest.py stays a thin wiring file).

Each source task loads its folder and fails itself, without retry, when a file was rejected; the
other sources' tasks are independent and still load. Unexpected errors (database down) raise
normally, so Airflow's retries apply to them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from spw.ingest import contract as c

log = logging.getLogger("spw.ingest")

# Sources delivered monthly (files named by period, YYYY-MM*.csv); practices/workforce are not.
MONTHLY_SOURCES = ("gp_appointments", "ae_attendances", "inpatient_admissions", "sp_referrals", "sp_wellbeing")


class DeliveryRejected(Exception):
    """Raised (wrapped in AirflowFailException by the DAG) when a source had a rejected file."""


def landing_from(conf: Mapping[str, object] | None) -> Path:
    """Landing folder: DAG run conf `landing_dir`, else $SPW_LANDING_DIR, else the project default."""
    from spw.config import landing_dir

    value = (conf or {}).get("landing_dir") or os.environ.get("SPW_LANDING_DIR")
    return Path(str(value)).resolve() if value else landing_dir()


def load_source_task(source: str, conf: Mapping[str, object] | None, run_id: str | None) -> dict:
    """Load one source's folder; log each file; raise DeliveryRejected naming every rejected file."""
    from spw.ingest.loader import load_source

    landing = landing_from(conf)
    today = conf.get("load_date") if conf else None
    results = load_source(None, landing, source, run_id,
                          today=date.fromisoformat(str(today)) if today else None)
    for r in results:
        (log.error if r.rejected else log.info)("%s", r.summary())
    summary = {
        "landing_dir": str(landing),
        "files": len(results),
        "loaded": sum(r.status == "loaded" for r in results),
        "duplicate": sum(r.status == "duplicate" for r in results),
        "rejected": [r.file_name for r in results if r.rejected],
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_rejected": sum(r.rows_rejected for r in results),
    }
    rejected = [r for r in results if r.rejected]
    if rejected:
        reasons = "; ".join(f"{r.file_name}: {r.reason}" for r in rejected)
        raise DeliveryRejected(f"{source}: {len(rejected)} of {len(results)} file(s) rejected: {reasons}")
    return summary


def gx_gate_task(source: str) -> str:
    """Run the Great Expectations checkpoint of raw.<source>; raise when any expectation failed."""
    from spw.ingest.gx_suites import run_gate

    result = run_gate(source)
    if not result.success:
        raise DeliveryRejected(result.summary())
    log.info("%s", result.summary())
    return result.summary()


def expected_period(today: date, lag_months: int = 1) -> str:
    """YYYY-MM of the delivery that should have landed by `today` (last month's data by default)."""
    month = today.year * 12 + today.month - 1 - lag_months
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def missing_monthly_deliveries(landing: Path, period: str) -> list[str]:
    """Monthly sources without a file for `period` (a file whose name starts with it)."""
    missing = []
    for source in MONTHLY_SOURCES:
        folder = landing / source
        names = [p.name for p in folder.glob("*") if p.suffix.lower() == ".csv"] if folder.is_dir() else []
        if not any(n.startswith(period) for n in names):
            missing.append(source)
    return missing


async def late_delivery_alert(context: Mapping | None = None, **kwargs: object) -> None:
    """Deadline Alert callback (runs in the triggerer): the monthly delivery is late."""
    dag_run = (context or {}).get("dag_run") if context else None
    logging.getLogger("spw.ingest.deadline").warning(
        "monthly delivery late: %s has not completed by its deadline (%s); check the landing folder and "
        "chase the providers. %s", getattr(dag_run, "dag_id", kwargs.get("dag_id")), kwargs.get("deadline"),
        kwargs.get("hint", ""))


def deadlines_enabled(argv: list[str] | None = None) -> bool:
    """False inside `airflow dags test`, whose in-memory DAG copy makes a successful run crash when
    the DAG has Deadline Alerts (Airflow 3.3.2, apache/airflow#73428, fix pending in #73430).
    `airflow dags test` has no scheduler to evaluate deadlines anyway. SPW_AIRFLOW_DEADLINES=0/1
    overrides the detection."""
    forced = os.environ.get("SPW_AIRFLOW_DEADLINES")
    if forced in ("0", "1"):
        return forced == "1"
    args = (sys.argv if argv is None else argv)[1:3]
    return args != ["dags", "test"]


def source_names() -> tuple[str, ...]:
    return c.SOURCE_NAMES
