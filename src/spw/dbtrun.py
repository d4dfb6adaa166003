"""Run dbt (its own venv) against the active warehouse as spw_transformer."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from spw import db
from spw.config import dbt_project_dir, spw_home, venv_bin


def dbt_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for dbt: connection as spw_transformer, no telemetry, state under $SPW_HOME."""
    env = dict(os.environ if base is None else base)
    parts = urlsplit(db.url("warehouse", "spw_transformer"))
    env.update(
        SPW_DBT_HOST=parts.hostname or "127.0.0.1",
        SPW_DBT_PORT=str(parts.port or 5432),
        SPW_DBT_USER=unquote(parts.username or ""),
        SPW_DBT_PASSWORD=unquote(parts.password or ""),
        SPW_DBT_DBNAME="warehouse",
        DBT_PROFILES_DIR=str(dbt_project_dir()),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        DO_NOT_TRACK="1",
        DBT_LOG_PATH=str(spw_home() / "dbt-logs"),
    )
    return env


def dbt_executable() -> str:
    return str(venv_bin("dbt", "dbt"))


def run_dbt(args: Sequence[str], check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    cmd = [dbt_executable(), *args]
    return subprocess.run(cmd, cwd=dbt_project_dir(), env=dbt_env(), check=check, text=True,
                          capture_output=capture)


if __name__ == "__main__":  # python -m spw.dbtrun build --select ...
    import sys

    raise SystemExit(run_dbt(sys.argv[1:], check=False).returncode)
