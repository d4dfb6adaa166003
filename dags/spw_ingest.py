"""Ingestion DAG (airflow dag): validate, pseudonymise and load each landing source into raw.

Thin wiring only; the work is in spw.ingest (loader, gx_suites, airflow_tasks). Per source: a load
task (fails itself, skipping retries, when a file of that source was rejected; other sources still
load) and a Great Expectations gate on raw.<source> that updates the raw Asset the transformation
DAG is scheduled on. A companion DAG watches for the monthly delivery with a Deadline Alert.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import (
    Asset,
    AsyncCallback,
    CronTriggerTimetable,
    DeadlineAlert,
    DeadlineReference,
    dag,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowFailException

from spw.assets import RAW_ASSET_NAME, RAW_ASSET_URI
from spw.dag_lock import release_run_lock, take_run_lock
from spw.ingest.airflow_tasks import (
    DeliveryRejected,
    deadlines_enabled,
    expected_period,
    gx_gate_task,
    landing_from,
    late_delivery_alert,
    load_source_task,
    missing_monthly_deliveries,
    source_names,
)
from spw.key_custody import KeyMismatch

RAW = Asset(name=RAW_ASSET_NAME, uri=RAW_ASSET_URI)
LONDON = "Europe/London"

# Airflow 3 Deadline Alerts. Left off under `airflow dags test` (see deadlines_enabled: a known
# Airflow 3.3.2 bug crashes a successful test run of a DAG with deadlines; no scheduler evaluates
# them there anyway); the scheduler, as started by `spw ui`, evaluates them.
# A run still going two hours after it was queued is stuck.
INGEST_DEADLINE = DeadlineAlert(
    reference=DeadlineReference.DAGRUN_QUEUED_AT,
    interval=timedelta(hours=2),
    callback=AsyncCallback(late_delivery_alert, kwargs={"dag_id": "spw_ingest", "deadline": "queued + 2 h",
                                                        "hint": "the ingestion run is stuck or very slow"}),
)
# The monthly delivery is late when the watch has not seen it by 18:00 on the 10th.
WATCH_DEADLINE = DeadlineAlert(
    reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
    interval=timedelta(days=9, hours=11),  # the run's logical date is 07:00 on the 1st
    callback=AsyncCallback(late_delivery_alert, kwargs={"dag_id": "spw_delivery_watch",
                                                        "deadline": "the 10th of the month, 18:00",
                                                        "hint": "last month's files have not all landed"}),
)


@task
def load(source: str) -> dict:
    # A rejected file needs a new delivery, not a retry: AirflowFailException skips the retries,
    # which remain for transient faults (database restart); a rerun is safe, the ledger dedupes.
    ctx = get_current_context()
    try:
        return load_source_task(source, ctx["dag_run"].conf or {}, ctx["run_id"])
    except (DeliveryRejected, KeyMismatch) as exc:  # a retry cannot mend either
        raise AirflowFailException(str(exc)) from None


@task(outlets=[RAW])
def gate(source: str) -> str:
    try:
        return gx_gate_task(source)
    except DeliveryRejected as exc:
        raise AirflowFailException(str(exc)) from None


@dag(
    dag_id="spw_ingest",
    description="Load landed CSV deliveries (data contract v1) into raw, one task per source, then GX gates.",
    # Daily at 06:00 UK time: deliveries land overnight; the ledger makes re-runs no-ops.
    schedule=CronTriggerTimetable("0 6 * * *", timezone=LONDON),
    start_date=pendulum.datetime(2024, 4, 1, tz=LONDON),
    catchup=False,
    max_active_runs=1,
    # Transient failures (database restart, network) retry; rejected files fail at once (see load).
    # Each task holds the warehouse's run lock (shared), so no task runs beside a `spw run` (spw.dag_lock).
    default_args={"owner": "spw", "retries": 2, "retry_delay": timedelta(minutes=2),
                  "pre_execute": take_run_lock, "post_execute": release_run_lock},
    deadline=INGEST_DEADLINE if deadlines_enabled() else None,
    tags=["spw", "ingest"],
)
def spw_ingest() -> None:
    for source in source_names():
        load.override(task_id=f"load_{source}")(source) >> gate.override(task_id=f"gx_{source}")(source)


@task.sensor(poke_interval=timedelta(hours=1), timeout=timedelta(days=20), mode="reschedule")
def monthly_delivery_landed() -> bool:
    ctx = get_current_context()
    landing = landing_from(ctx["dag_run"].conf or {})
    period = expected_period(ctx["logical_date"].date())
    missing = missing_monthly_deliveries(landing, period)
    if missing:
        print(f"waiting for the {period} delivery of: {', '.join(missing)} in {landing}")
    return not missing


@dag(
    dag_id="spw_delivery_watch",
    description="Waits for last month's delivery of every monthly source; a Deadline Alert fires when late.",
    # On the 1st of each month; the contract expects last month's files by the 10th.
    schedule=CronTriggerTimetable("0 7 1 * *", timezone=LONDON),
    start_date=pendulum.datetime(2024, 4, 1, tz=LONDON),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "spw", "retries": 0},
    deadline=WATCH_DEADLINE if deadlines_enabled() else None,
    tags=["spw", "ingest"],
)
def spw_delivery_watch() -> None:
    monthly_delivery_landed()


spw_ingest()
spw_delivery_watch()
