"""One writer at a time: `spw run`, `spw restore` (and `spw backup`, shared) hold a Postgres advisory
lock on the warehouse for as long as they work, so two runs cannot interleave their loads and builds.

A session-level advisory lock lives on the server, not in the state folder: it is seen by every
process of the deployment whatever machine or state folder it runs from (an Airflow scheduler or
worker elsewhere included), and the server releases it when the holder's connection ends, so a
crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from spw.errors import SpwError

RUN_LOCK = 0x5350_5752_554E  # "SPWRUN"
_APP = "spw"
PIPELINE_DAGS = ("spw_ingest", "spw_transform")


class RunLocked(SpwError):
    """Another process holds the warehouse's run lock."""


def _holders(conn: psycopg.Connection) -> str:
    rows = conn.execute(
        "select a.application_name, a.pid, a.backend_start from pg_locks l join pg_stat_activity a using (pid) "
        "where l.locktype = 'advisory' and l.granted and l.classid = %s and l.objid = %s and l.objsubid = 1 "
        "and a.pid <> pg_backend_pid()",
        ((RUN_LOCK >> 32) & 0xFFFFFFFF, RUN_LOCK & 0xFFFFFFFF),
    ).fetchall()
    if not rows:
        return "a process that has just let go of it"
    return "; ".join(f"{name or 'an unnamed session'} (server pid {pid}, since {start:%Y-%m-%d %H:%M:%S %Z})"
                     for name, pid, start in rows)


@contextmanager
def hold(what: str, wait: bool = False, shared: bool = False) -> Iterator[None]:
    """Hold the warehouse's run lock while the block runs; `what` names the holder for others to see.
    Exclusive by default (writers); `shared` lets readers (a backup) run beside each other but not
    beside a writer. Without `wait`, refuse at once with a message naming the holder."""
    from spw import db

    label = f"{_APP} {what} (pid {os.getpid()} on {socket.gethostname()})"
    # In the maintenance database: `spw restore` drops and renames the warehouse while holding it.
    conn = db.connect("postgres", autocommit=True, application_name=label[:63])
    mode = "_shared" if shared else ""
    try:
        got = conn.execute(f"select pg_try_advisory_lock{mode}(%s)", (RUN_LOCK,)).fetchone()[0]
        if not got:
            holder = _holders(conn)
            if not wait:
                raise RunLocked(f"the warehouse is busy: {holder} holds its run lock, so `spw {what}` did not "
                                "start (two runs would interleave their loads and builds). Wait for it to "
                                "finish, or pass --wait to queue behind it.")
            print(f"waiting for the warehouse's run lock, held by {holder} ...", flush=True)
            conn.execute(f"select pg_advisory_lock{mode}(%s)", (RUN_LOCK,))
        yield
    finally:
        conn.close()  # ends the session: the server releases the lock


def scheduler_activity() -> list[str]:
    """What of the Airflow scheduler could run the pipeline's DAGs beside a `spw run`: this
    deployment's scheduler process, and runs of the DAGs it (or the UI, API or an asset event)
    started that are queued or running in the metadata database, whichever machine runs them."""
    from spw import db, services

    found = []
    svc = services.get("airflow-scheduler")
    if svc:
        found.append(f"this deployment's Airflow scheduler (pid {svc.pid})")
    try:
        with db.connect("airflow", "spw_airflow") as conn:
            rows = conn.execute(
                "select dag_id, run_id from dag_run where dag_id = any(%s) and state in ('queued', 'running') "
                "and coalesce(lower(triggered_by::text), '') <> 'test'", (list(PIPELINE_DAGS),)).fetchall()
    except (SpwError, psycopg.Error):  # no metadata database yet: nothing can be running
        rows = []
    return found + [f"the Airflow run {run_id} of {dag_id}" for dag_id, run_id in rows]


@contextmanager
def exclusive_pipeline(what: str, wait: bool = False) -> Iterator[None]:
    """The run lock, and no scheduler that would start the same DAGs beside us: a scheduler starts
    the transformation DAG by itself when the ingestion updates raw (an asset event)."""
    with hold(what, wait=wait):
        busy = scheduler_activity()
        if busy:
            raise RunLocked(f"`spw {what}` did not start: {'; '.join(busy)} would run the pipeline's DAGs beside "
                            "it. Trigger spw_ingest in the Airflow UI instead (conf landing_dir), or stop the "
                            "scheduler first (`spw down`).")
        yield
