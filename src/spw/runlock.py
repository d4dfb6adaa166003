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
# Set by `spw run` in the environment of the DAG runs it starts: the server pid of its lock session,
# so that their tasks (which otherwise take the lock themselves, spw.dag_lock) run under it.
HOLDER_ENV = "SPW_RUN_LOCK_HOLDER"


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
    return "; ".join(f"{name or 'an unnamed session'} (server pid {pid}"
                     + (f", since {start:%Y-%m-%d %H:%M:%S %Z})" if start else ")") for name, pid, start in rows)


def _acquire(conn: psycopg.Connection, what: str, wait: bool | float, shared: bool) -> None:
    """Take the lock on conn's session; wait=True waits for ever, a number waits that many seconds."""
    mode = "_shared" if shared else ""
    if conn.execute(f"select pg_try_advisory_lock{mode}(%s)", (RUN_LOCK,)).fetchone()[0]:
        return
    holder = _holders(conn)
    if wait is False:
        raise RunLocked(f"the warehouse is busy: {holder} holds its run lock, so `spw {what}` did not "
                        "start (two runs would interleave their loads and builds). Wait for it to "
                        "finish, or pass --wait to queue behind it.")
    print(f"waiting for the warehouse's run lock, held by {holder} ...", flush=True)
    if wait is not True:
        conn.execute(f"set lock_timeout = '{int(float(wait) * 1000)}ms'")
    try:
        conn.execute(f"select pg_advisory_lock{mode}(%s)", (RUN_LOCK,))
    except psycopg.errors.LockNotAvailable:
        raise RunLocked(f"the warehouse is busy: {_holders(conn)} still holds its run lock after {float(wait):.0f} s "
                        f"of waiting, so {what} did not start (it would interleave with that run's loads and "
                        "builds). Run it again once that run has finished.") from None
    conn.execute("reset lock_timeout")


def _session(what: str, role: str | None = None) -> psycopg.Connection:
    from spw import db

    label = f"{_APP} {what} (pid {os.getpid()} on {socket.gethostname()})"
    # In the maintenance database: `spw restore` drops and renames the warehouse while holding it.
    return db.connect("postgres", role, autocommit=True, application_name=label[:63])


@contextmanager
def hold(what: str, wait: bool = False, shared: bool = False) -> Iterator[int]:
    """Hold the warehouse's run lock while the block runs; `what` names the holder for others to see.
    Exclusive by default (writers); `shared` lets readers (a backup) run beside each other but not
    beside a writer. Without `wait`, refuse at once with a message naming the holder. Yields the
    server pid of the session holding it (HOLDER_ENV hands it to the DAG runs started under it)."""
    conn = _session(what)
    try:
        _acquire(conn, what, wait, shared)
        yield conn.info.backend_pid
    finally:
        conn.close()  # ends the session: the server releases the lock


def holds_exclusively(server_pid: int) -> bool:
    """True when the session with that server pid holds the run lock exclusively (a live `spw run`)."""
    from spw import db

    with db.connect("postgres", "spw_airflow", autocommit=True) as conn:
        return bool(conn.execute(
            "select exists (select from pg_locks where locktype = 'advisory' and granted and mode = 'ExclusiveLock' "
            "and pid = %s and classid = %s and objid = %s and objsubid = 1)",
            (server_pid, (RUN_LOCK >> 32) & 0xFFFFFFFF, RUN_LOCK & 0xFFFFFFFF)).fetchone()[0])


def take_shared(what: str, wait_seconds: float) -> psycopg.Connection:
    """The run lock in shared mode on a new session for a DAG task: tasks of the pipeline run beside
    each other, never beside a `spw run` or `spw restore`. The caller closes it. The same login as
    `spw run`'s, so that the holder's name can be read and told (pg_stat_activity)."""
    conn = _session(what)
    try:
        _acquire(conn, what, wait_seconds, shared=True)
    except BaseException:
        conn.close()
        raise
    return conn


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
def exclusive_pipeline(what: str, wait: bool = False) -> Iterator[int]:
    """The run lock, and no scheduler that would start the same DAGs beside us: a scheduler starts
    the transformation DAG by itself when the ingestion updates raw (an asset event). Yields the
    holding session's server pid, for HOLDER_ENV."""
    with hold(what, wait=wait) as holder:
        busy = scheduler_activity()
        if busy:
            raise RunLocked(f"`spw {what}` did not start: {'; '.join(busy)} would run the pipeline's DAGs beside "
                            "it. Trigger spw_ingest in the Airflow UI instead (conf landing_dir), or stop the "
                            "scheduler first (`spw down`).")
        yield holder
