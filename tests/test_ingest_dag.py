"""The real `airflow dags test spw_ingest` on a small folder with one bad file, and the GX gate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ingest_helpers import baseline_rows, recreate_warehouse, write_csv

from spw.ingest import contract as c

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warehouse(pg_server: str) -> str:
    recreate_warehouse()
    return "warehouse"


def _task_states(dag_id: str) -> dict[str, str]:
    from spw import db

    with db.connect("airflow", "spw_airflow") as conn:
        run = conn.execute("select run_id from dag_run where dag_id = %s order by id desc limit 1",
                           (dag_id,)).fetchone()
        rows = conn.execute("select task_id, state from task_instance where dag_id = %s and run_id = %s",
                            (dag_id, run[0])).fetchall()
    return dict(rows)


def test_airflow_env_settings(pg_server: str) -> None:
    from spw.airflow_env import airflow_env
    from spw.config import dags_dir, spw_home

    env = airflow_env({})
    assert env["AIRFLOW_HOME"] == str(spw_home() / "airflow")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(dags_dir())
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://spw_airflow:")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("/airflow")
    assert Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).parent == spw_home() / "secrets"
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False" and env["GX_ANALYTICS_ENABLED"] == "false"
    assert Path(env["TMPDIR"]).is_dir()


def test_dag_run_fails_only_the_bad_source(warehouse: str, tmp_path: Path) -> None:
    from spw import db
    from spw.airflow_env import run_dag

    landing = tmp_path / "landing"
    for source in c.SOURCE_NAMES:
        write_csv(landing / source / "2024-05.csv", baseline_rows(source, 3, prefix="DAG"))
    bad = baseline_rows("ae_attendances", 2, prefix="BAD")
    bad[0] = [h for h in bad[0] if h != "arrival_date"]
    bad[1:] = [r[:3] + r[4:] for r in bad[1:]]
    write_csv(landing / "ae_attendances" / "2024-06.csv", bad)

    proc = run_dag("spw_ingest", {"landing_dir": str(landing)})
    output = proc.stdout + proc.stderr

    assert proc.returncode != 0
    states = _task_states("spw_ingest")
    assert states.pop("load_ae_attendances") == "failed"
    assert states.pop("gx_ae_attendances") == "upstream_failed"
    assert set(states.values()) == {"success"}, states
    assert len(states) == 2 * len(c.SOURCE_NAMES) - 2
    assert "2024-06.csv: missing required column(s): arrival_date" in output
    with db.connect("warehouse", "spw_loader") as conn:
        for source in c.SOURCE_NAMES:
            assert conn.execute(f"select count(*) from raw.{source}").fetchone() == (3,), source
        ledger = conn.execute("select file_name, status from audit.file_loads where source = 'ae_attendances' "
                              "order by file_name").fetchall()
    assert ledger == [("2024-05.csv", "loaded"), ("2024-06.csv", "rejected")]
    assert os.environ.get("SPW_HOME") and "spw_ingest" in proc.args

    # The provider withdraws the bad file: the rerun succeeds (exit 0), every file a duplicate.
    (landing / "ae_attendances" / "2024-06.csv").unlink()
    again = run_dag("spw_ingest", {"landing_dir": str(landing)})
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert set(_task_states("spw_ingest").values()) == {"success"}


def test_gx_gate_fails_on_bad_raw_rows(warehouse: str) -> None:
    from spw import db
    from spw.ingest.gx_suites import run_gate
    from spw.ingest.schema import ensure_schema

    with db.connect("warehouse", "spw_loader") as conn:
        ensure_schema(conn)
        conn.execute("truncate raw.inpatient_admissions")
        conn.execute("insert into raw.inpatient_admissions (spell_id, patient_key, provider_code, admission_date, "
                     "discharge_date, admission_method, file_name, file_sha256, loaded_at) values "
                     "('S1', repeat('a', 64), 'RXX', '2024-01-02', '2024-01-03', '21', 'f', 's', now())")
        conn.commit()
        assert run_gate("inpatient_admissions").success
        # Rows the loader would never write: a non-hex key, a code outside its set, discharge before admission.
        conn.execute("insert into raw.inpatient_admissions (spell_id, patient_key, provider_code, admission_date, "
                     "discharge_date, admission_method, file_name, file_sha256, loaded_at) values "
                     "('S2', '9434765919', 'RXX', '2024-01-02', '2024-01-01', '2E', 'f', 's', now())")
        conn.commit()
        result = run_gate("inpatient_admissions")
        conn.execute("truncate raw.inpatient_admissions")
        conn.commit()
    assert not result.success
    assert "expect_column_values_to_match_regex(patient_key)" in result.failed
    assert "expect_column_values_to_be_in_set(admission_method)" in result.failed
    assert "expect_column_pair_values_a_to_be_greater_than_b(discharge_date)" in result.failed


def test_committed_suites_match_the_contract() -> None:
    """expectations/gx holds what gx_suites builds from the contract (rebuild: python -m spw.ingest.gx_suites)."""
    import json

    from spw.config import expectations_dir
    from spw.ingest.gx_suites import expectations_for

    for source in c.SOURCE_NAMES:
        saved = json.loads((expectations_dir() / "gx" / "expectations" / f"raw_{source}.json").read_text())
        got = sorted((e["type"], json.dumps(e["kwargs"], sort_keys=True, default=str)) for e in saved["expectations"])
        want = sorted((e.expectation_type, json.dumps(e.configuration.kwargs, sort_keys=True, default=str))
                      for e in expectations_for(c.get_source(source)))
        assert got == want, source


DAG_PROBE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=__import__("spw.config", fromlist=["x"]).dags_dir() / "spw_ingest.py")
out = {"errors": {k: str(v)[:300] for k, v in bag.import_errors.items()}}
for dag_id in ("spw_ingest", "spw_delivery_watch"):
    dag = bag.dags[dag_id]
    out[dag_id] = {
        "timetable": type(dag.timetable).__name__,
        "cron": getattr(dag.timetable, "expression", None),
        "catchup": dag.catchup,
        "deadlines": [(type(d.reference).__name__, d.interval.total_seconds(), d.callback.path)
                      for d in (dag.deadline or [])],
        "tasks": {t.task_id: {"retries": t.retries, "outlets": [getattr(o, "uri", None) for o in t.outlets],
                              "upstream": sorted(t.upstream_task_ids)} for t in dag.tasks},
    }
print("PROBE" + json.dumps(out))
"""


def test_dag_structure_schedule_and_deadlines(pg_server: str) -> None:
    """Both DAGs parse; schedules, retries, outlets and Deadline Alerts are as designed."""
    import json
    import subprocess

    from spw.airflow_env import airflow_env
    from spw.config import venv_bin

    proc = subprocess.run([str(venv_bin("airflow", "python")), "-c", DAG_PROBE], env=airflow_env(),
                          capture_output=True, text=True, timeout=300)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PROBE"))
    info = json.loads(line[len("PROBE"):])
    assert info["errors"] == {}
    ingest, watch = info["spw_ingest"], info["spw_delivery_watch"]
    assert (ingest["timetable"], ingest["cron"], ingest["catchup"]) == ("CronTriggerTimetable", "0 6 * * *", False)
    assert ingest["deadlines"] == [["DagRunQueuedAtDeadline", 7200.0, "spw.ingest.airflow_tasks.late_delivery_alert"]]
    assert watch["deadlines"] == [["DagRunLogicalDateDeadline", (9 * 24 + 11) * 3600.0,
                                   "spw.ingest.airflow_tasks.late_delivery_alert"]]
    assert watch["cron"] == "0 7 1 * *"
    for source in c.SOURCE_NAMES:
        load, gate = ingest["tasks"][f"load_{source}"], ingest["tasks"][f"gx_{source}"]
        assert load["retries"] == 2 and load["upstream"] == []  # sources are independent
        assert gate["upstream"] == [f"load_{source}"] and gate["outlets"] == ["spw://warehouse/raw"]
        assert gate["retries"] == 2


def test_late_delivery_callback_and_watch_run(warehouse: str, tmp_path: Path) -> None:
    """The watch DAG succeeds once last month's files of every monthly source have landed."""
    import asyncio
    import logging

    from spw.airflow_env import run_dag
    from spw.ingest.airflow_tasks import MONTHLY_SOURCES, late_delivery_alert

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("spw.ingest.deadline").addHandler(handler)
    try:
        asyncio.run(late_delivery_alert(None, dag_id="spw_delivery_watch", deadline="the 10th"))
    finally:
        logging.getLogger("spw.ingest.deadline").removeHandler(handler)
    assert "monthly delivery late" in records[0].getMessage()

    landing = tmp_path / "landing"
    for source in MONTHLY_SOURCES:
        write_csv(landing / source / "2024-05.csv", baseline_rows(source, 1))
    env_conf = {"landing_dir": str(landing)}
    proc = run_dag("spw_delivery_watch", env_conf, logical_date="2024-06-01T07:00:00+01:00")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert _task_states("spw_delivery_watch") == {"monthly_delivery_landed": "success"}


TRANSFORM_PROBE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=__import__("spw.config", fromlist=["x"]).dags_dir() / "spw_transform.py")
dag = bag.dags["spw_transform"]
param = dag.params.get_param("full_refresh")
flags = {}
for task in dag.tasks:
    if task.task_id.startswith("dbt_build_"):
        template = task.full_refresh
        flags[task.task_id] = {"template": template}
        for value in ("True", "False"):
            task.full_refresh = value  # what Airflow renders the template to
            flags[task.task_id][value] = "--full-refresh" in task.add_cmd_flags()
commands = {t.task_id: [*t.base_cmd, *(t.select or [])] for t in dag.tasks if t.task_id.startswith("dbt_")}
out = {"errors": {k: str(v)[:300] for k, v in bag.import_errors.items()}, "default": param.value,
       "schema": param.schema.get("type"), "flags": flags, "commands": commands}
print("PROBE" + json.dumps(out))
"""


def test_transform_dag_full_refresh_param(pg_server: str) -> None:
    """The transformation DAG builds incrementally unless its run sets full_refresh (spw run --full-refresh)."""
    import json
    import subprocess

    from spw.airflow_env import airflow_env
    from spw.config import venv_bin

    proc = subprocess.run([str(venv_bin("airflow", "python")), "-c", TRANSFORM_PROBE], env=airflow_env(),
                          capture_output=True, text=True, timeout=300)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("PROBE")), None)
    assert line, proc.stderr[-2000:]
    info = json.loads(line[len("PROBE"):])
    assert info["errors"] == {}
    assert (info["default"], info["schema"]) == (False, "boolean")
    assert set(info["flags"]) == {"dbt_build_staging", "dbt_build_intermediate", "dbt_build_marts",
                                  "dbt_build_published"}
    for flags in info["flags"].values():
        assert flags == {"template": "{{ params.full_refresh }}", "True": True, "False": False}
    # the code lists are built, not only loaded: their own data tests run before any model reads them
    assert info["commands"]["dbt_seed_reference"] == ["build", "resource_type:seed"]


def test_scheduled_dag_run_waits_for_the_run_lock(warehouse: str, tmp_path: Path) -> None:
    """A DAG run that `spw run` did not start (the scheduler's) takes the warehouse's run lock in every
    task: while a run holds it, the task waits naming the holder, fails with a clear sentence once
    SPW_RUN_LOCK_WAIT_SECONDS have passed, and goes on as soon as the lock is let go. Under `spw run`
    (HOLDER_ENV naming the live holder) the tasks run under its lock; a stale holder counts for nothing."""
    import subprocess
    import time

    from spw import runlock
    from spw.airflow_env import airflow_bin, airflow_env, migrate, run_dag
    from spw.dag_lock import WAIT_ENV

    empty = tmp_path / "landing"
    empty.mkdir()
    conf = {"landing_dir": str(empty)}
    env = airflow_env()
    env.pop(runlock.HOLDER_ENV, None)

    with runlock.hold("run"):
        refused = run_dag("spw_ingest", conf, env={**env, WAIT_ENV: "2"})
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "waiting for the warehouse's run lock, held by spw run (pid" in out, out[-3000:]
    assert "holds its run lock after 2 s of waiting, so task spw_ingest.load_" in out, out[-3000:]
    states = _task_states("spw_ingest")
    assert {s for t, s in states.items() if t.startswith("load_")} == {"failed"}, states

    log = tmp_path / "waiting.log"
    migrate(env)
    with runlock.hold("run") as holder, log.open("w") as sink:
        # a holder that is not this run's (a stale value left in an environment) lets nothing through
        waiting = subprocess.Popen(
            [airflow_bin(), "dags", "test", "spw_ingest", "-c", json.dumps(conf)],
            env={**env, WAIT_ENV: "600", runlock.HOLDER_ENV: str(holder + 1)}, stdout=sink,
            stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 600
        while "waiting for the warehouse's run lock" not in log.read_text() and waiting.poll() is None:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        assert waiting.poll() is None, log.read_text()[-3000:]
        assert not [t for t, s in _task_states("spw_ingest").items() if s == "success"]
    assert waiting.wait(timeout=900) == 0, log.read_text()[-3000:]
    assert set(_task_states("spw_ingest").values()) == {"success"}

    with runlock.hold("run") as holder:  # as under `spw run`: its DAG runs go on under its lock
        under = run_dag("spw_ingest", conf, env={**env, WAIT_ENV: "2", runlock.HOLDER_ENV: str(holder)})
    assert under.returncode == 0, (under.stdout + under.stderr)[-3000:]
    assert "waiting for the warehouse's run lock" not in under.stdout + under.stderr
