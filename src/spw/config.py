"""Where things live. Every path is derived from the repository root or an environment variable."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

VENVS = ("airflow", "dbt", "superset", "spark")


def repo_root() -> Path:
    """The checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parents[2]


def spw_home() -> Path:
    """State folder: clusters, venvs, secrets, logs. Git-ignored, and kept from `git clean -x` (see
    protect_from_git_clean). Created private (mode 700); one that any user may write to, without
    the sticky bit, is refused: another account could swap the secrets or the cluster under us."""
    home = Path(os.environ.get("SPW_HOME") or repo_root() / ".spw")
    if not home.is_dir():
        home.parent.mkdir(parents=True, exist_ok=True)
        home.mkdir(mode=0o700, exist_ok=True)
    mode = home.stat().st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        from spw.errors import SpwError

        raise SpwError(f"state folder {home} is writable by every user: `chmod o-w {home}` or choose another "
                       "SPW_HOME.")
    home = home.resolve()
    if home == (repo_root() / ".spw").resolve():
        protect_from_git_clean(home)
    return home


def protect_from_git_clean(home: Path) -> None:
    """Make the in-repo state folder its own (empty) git repository: `git clean -fdx` in the checkout
    then leaves it alone, as git never deletes a nested repository unless given -f twice. Holds the
    database, the secrets and the pseudonymisation key; `make clean-all` is the way to delete it."""
    marker = home / ".git"
    if marker.exists():
        return
    import subprocess

    with contextlib.suppress(OSError):  # no git on this machine: no `git clean` to protect against
        subprocess.run(["git", "init", "--quiet", str(home)], capture_output=True, check=False)


def landing_dir() -> Path:
    return Path(os.environ.get("SPW_LANDING_DIR") or repo_root() / "data" / "landing").resolve()


def venv_bin(env: str, exe: str) -> Path:
    """Executable inside one of the project venvs (see requirements/)."""
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
