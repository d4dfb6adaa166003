"""Environment for Airflow 3 (the `airflow` venv) and one-shot DAG runs with `airflow dags test`.

Everything Airflow writes lives under $SPW_HOME/airflow; its metadata database is `airflow` on the
project's Postgres, as role spw_airflow. Secrets come from spw.secrets, never from the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from spw import db
from spw.config import dags_dir, expectations_dir, landing_dir, spw_home, venv_bin
from spw.secrets import get_secret, json_secret_file, write_json_secret

ADMIN_USER = "admin"
PASSWORDS_FILE = "airflow_passwords.json"
_MIGRATED: set[str] = set()  # metadata URLs already migrated by this process


def airflow_home() -> Path:
    home = spw_home() / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    return home


def _passwords_file() -> Path:
    """Simple auth manager passwords (JSON {user: password}), created once in the secrets folder."""
    path = json_secret_file(PASSWORDS_FILE)
    if not path.exists():
        write_json_secret(PASSWORDS_FILE, {ADMIN_USER: get_secret("SPW_AIRFLOW_ADMIN_PASSWORD", "airflow_admin")})
    return path


def metadata_url() -> str:
    url = db.url("airflow", "spw_airflow")
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def airflow_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ (or base) plus everything Airflow, Cosmos and GX need for this project."""
    env = dict(os.environ if base is None else base)
    home = airflow_home()
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_dir()),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_url(),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN_USER}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(_passwords_file()),
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        AIRFLOW__COSMOS__CACHE_DIR=str(home / "cosmos_cache"),
        DO_NOT_TRACK="1",
        SCARF_ANALYTICS="false",
        AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
        GX_ANALYTICS_ENABLED="false",
        SPW_EXPECTATIONS_DIR=str(expectations_dir()),
        SPW_HOME=str(spw_home()),
        TMPDIR=str(tmp),
    )
    env.setdefault("SPW_LANDING_DIR", str(landing_dir()))
    # DAG files import the spw package from this checkout.
    src = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def airflow_bin() -> str:
    return str(venv_bin("airflow", "airflow"))


def migrate(env: Mapping[str, str] | None = None) -> None:
    """`airflow db migrate` once per process and metadata database (idempotent, about 4 s)."""
    env = dict(env or airflow_env())
    url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if url in _MIGRATED:
        return
    proc = subprocess.run([airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        from spw.errors import SpwError

        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise SpwError("airflow db migrate failed: " + " | ".join(tail))
    _MIGRATED.add(url)


def run_dag(dag_id: str, conf: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None,
            capture: bool = True, logical_date: str | None = None) -> subprocess.CompletedProcess:
    """Run one DAG in-process with `airflow dags test` (no servers); exit code 1 when a task failed."""
    env = dict(env or airflow_env())
    migrate(env)
    cmd = [airflow_bin(), "dags", "test", dag_id, *([logical_date] if logical_date else []),
           "-c", json.dumps(dict(conf or {}), sort_keys=True)]
    return subprocess.run(cmd, env=env, capture_output=capture, text=True)
