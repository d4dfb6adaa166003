"""Run the DAGs through real Airflow (`airflow dags test`) and report failed tasks by name."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from spw import db

INGEST_DAG = "spw_ingest"
TRANSFORM_DAG = "spw_transform"

Progress = Callable[[str], AbstractContextManager[None]]


def _no_progress(title: str) -> AbstractContextManager[None]:
    return nullcontext()


def failed_tasks(dag_id: str) -> list[str]:
    """Failed task ids of the latest run of dag_id, read from the Airflow metadata database."""
    with db.connect("airflow", "spw_airflow") as conn:
        row = conn.execute(
            "select run_id from dag_run where dag_id = %s order by id desc limit 1", (dag_id,)
        ).fetchone()
        if not row:
            return [f"{dag_id} (no run recorded)"]
        rows = conn.execute(
            "select task_id, state from task_instance where dag_id = %s and run_id = %s "
            "and state in ('failed', 'upstream_failed') order by state, task_id",
            (dag_id, row[0]),
        ).fetchall()
    log = f"{dag_id}.log"
    return [f"{dag_id}.{task_id} ({state}; see $SPW_HOME/logs/{log})" for task_id, state in rows]


def _keep_log(dag_id: str, proc: subprocess.CompletedProcess) -> Path:
    """The `airflow dags test` output, kept for the user; failed tasks' reasons are in it."""
    from spw.services import logs_dir

    path = logs_dir() / f"{dag_id}.log"
    path.write_text((proc.stdout or "") + (proc.stderr or ""))
    return path


def _landed_files(landing: Path) -> int:
    return sum(1 for p in landing.glob("*/*") if p.suffix.lower() == ".csv" and not p.name.startswith("."))


def _ledger_rows_since(started: datetime) -> int:
    with db.connect("warehouse", "spw_analyst") as conn:
        row = conn.execute("select count(*) from audit.file_loads where started_at >= %s", (started,)).fetchone()
    return int(row[0])


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // max(total, 1)
    return f"  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} files"


def _with_file_progress(landing: Path, run: Callable[[], subprocess.CompletedProcess]) -> subprocess.CompletedProcess:
    """Run the ingestion DAG while drawing a progress bar: one ledger row appears per landed file."""
    import sys
    import threading

    total = _landed_files(landing)
    started = datetime.now(UTC)
    result: list[subprocess.CompletedProcess] = []
    worker = threading.Thread(target=lambda: result.append(run()), daemon=True)
    worker.start()
    tty = sys.stdout.isatty()
    last = -1
    while worker.is_alive():
        worker.join(timeout=2)
        try:
            done = min(_ledger_rows_since(started), total)
        except Exception:  # the ledger may not exist yet on a brand-new warehouse
            continue
        if done != last and (tty or done == total or done - last >= max(total // 10, 1)):
            print(("\r" if tty else "") + _bar(done, total), end="" if tty else "\n", flush=True)
            last = done
    if tty and last >= 0:
        print()
    return result[0]


def run_pipeline(landing: Path, progress: Progress = _no_progress, full_refresh: bool = False,
                 lock_holder: int | None = None) -> list[str]:
    """Ingest the landing folder, then transform; return the failed tasks (empty when all succeeded).
    `full_refresh` rebuilds the incremental models from scratch instead of only what changed.
    `lock_holder`: the server pid of the session holding the run lock for this run (spw.runlock),
    under which the DAGs' tasks run instead of taking the lock themselves.

    The transformation runs even when one source's task failed: the other sources' valid files have
    loaded and the marts should reflect them; the failure is still reported and makes `spw run` fail.
    """
    from spw.airflow_env import airflow_env, run_dag
    from spw.dbtrun import dbt_env

    # dbt (through Cosmos) connects as spw_transformer with credentials from this environment.
    env = dbt_env(airflow_env())
    if lock_holder is not None:
        from spw.runlock import HOLDER_ENV

        env[HOLDER_ENV] = str(lock_holder)
    failed: list[str] = []
    with progress("Airflow: ingestion DAG (validate, pseudonymise, load)"):
        proc = _with_file_progress(landing, lambda: run_dag(INGEST_DAG, {"landing_dir": str(landing)}, env=env))
        _keep_log(INGEST_DAG, proc)
        if proc.returncode != 0:
            failed += failed_tasks(INGEST_DAG) or [f"{INGEST_DAG} (exit code {proc.returncode})"]
    with progress("Airflow: transformation DAG (dbt through Cosmos)"):
        proc = run_dag(TRANSFORM_DAG, {"full_refresh": full_refresh}, env=env)
        _keep_log(TRANSFORM_DAG, proc)
        if proc.returncode != 0:
            failed += failed_tasks(TRANSFORM_DAG) or [f"{TRANSFORM_DAG} (exit code {proc.returncode})"]
    return failed


def start_airflow_ui() -> str:
    """Airflow api-server (UI), scheduler and dag-processor as separate process groups (not standalone)."""
    from spw import services
    from spw.airflow_env import airflow_env, migrate
    from spw.config import venv_bin
    from spw.dbtrun import dbt_env

    env = dbt_env(airflow_env())
    migrate(env)
    existing = services.get("airflow-api-server")
    port = existing.port if existing and existing.port else services.free_port()
    env["AIRFLOW__API__PORT"] = str(port)
    env["AIRFLOW__API__BASE_URL"] = f"http://127.0.0.1:{port}"
    airflow = str(venv_bin("airflow", "airflow"))
    api = services.start("airflow-api-server", [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
                         env, port=port)
    services.start("airflow-scheduler", [airflow, "scheduler"], env)
    services.start("airflow-dag-processor", [airflow, "dag-processor"], env)
    if not services.wait_for_port(port, timeout=180, pid=api.pid):
        from spw.errors import SpwError

        raise SpwError(f"the Airflow api-server did not open port {port}: see {api.log}")
    return f"http://127.0.0.1:{port}"
