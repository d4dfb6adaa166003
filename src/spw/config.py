"""Where things live. Every path is derived from the repository root or an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

VENVS = ("airflow", "dbt", "superset")


def repo_root() -> Path:
    """The checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parents[2]


def spw_home() -> Path:
    """State folder: clusters, venvs, secrets, logs. Git-ignored."""
    home = Path(os.environ.get("SPW_HOME") or repo_root() / ".spw")
    home.mkdir(parents=True, exist_ok=True)
    return home.resolve()


def landing_dir() -> Path:
    return Path(os.environ.get("SPW_LANDING_DIR") or repo_root() / "data" / "landing").resolve()


def venv_bin(env: str, exe: str) -> Path:
    """Executable inside one of the three project venvs (see requirements/)."""
    if env not in VENVS:
        raise ValueError(f"unknown venv {env!r}")
    root = Path(os.environ.get("SPW_VENVS") or spw_home() / "venvs")
    return root / env / "bin" / exe


def dbt_project_dir() -> Path:
    return repo_root() / "dbt_project"


def dashboards_dir() -> Path:
    return repo_root() / "dashboards"


def expectations_dir() -> Path:
    return repo_root() / "expectations"


def dags_dir() -> Path:
    return repo_root() / "dags"
