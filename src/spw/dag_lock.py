"""The warehouse's run lock for the pipeline DAGs' tasks (spw.runlock), as Airflow task hooks.

Every task of `spw_ingest` and `spw_transform` takes the lock in shared mode before it runs and lets
go after (`pre_execute` / `post_execute` in the DAGs' default_args): tasks of the pipeline run beside
each other, but none beside a `spw run` or `spw restore`, which hold it exclusively. A task that
finds it held waits (logging the holder) up to SPW_RUN_LOCK_WAIT_SECONDS (default two hours, the
ingestion's deadline), then fails with a sentence naming the holder. The DAG runs that `spw run`
starts itself run under its lock: it names its lock session in HOLDER_ENV, and a task checks that
this session really holds the lock before going without (a stale or copied value counts for nothing).
"""

from __future__ import annotations

import os
from typing import Any

import psycopg

from spw import runlock

WAIT_ENV = "SPW_RUN_LOCK_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 2 * 3600.0
_held: list[psycopg.Connection] = []


def _task_name(context: Any) -> str:
    ti = context.get("ti") if hasattr(context, "get") else None
    return f"task {ti.dag_id}.{ti.task_id}" if ti is not None else "an Airflow task"


def _under_spw_run() -> bool:
    holder = os.environ.get(runlock.HOLDER_ENV, "")
    return holder.isdigit() and runlock.holds_exclusively(int(holder))


def take_run_lock(context: Any) -> None:
    """pre_execute hook: hold the run lock (shared) for this task, unless `spw run` holds it for us."""
    release_run_lock(context)  # `airflow dags test` runs every task in one process: a failed one left its session
    if _under_spw_run():
        return
    wait = float(os.environ.get(WAIT_ENV) or DEFAULT_WAIT_SECONDS)
    try:
        _held.append(runlock.take_shared(_task_name(context), wait))
    except runlock.RunLocked as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from None  # it has waited already: a retry would only wait again


def release_run_lock(context: Any = None, result: Any = None) -> None:
    """post_execute hook: end the session, which releases the lock (a task process that dies ends it too)."""
    while _held:
        _held.pop().close()
