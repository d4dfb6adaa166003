"""Run Superset from its own venv: metadata init, gunicorn start/stop, an environment for its CLI.

Superset 6.1 needs SQLAlchemy 1.4, so it never runs inside this (Airflow) interpreter: every call is a
subprocess of `$SPW_VENVS/superset/bin/...` with SUPERSET_CONFIG_PATH pointing at superset_config.py.
State lives in $SPW_HOME/superset (pid, port, init marker); logs in $SPW_HOME/logs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from spw import db, services
from spw.bi_logins import NO_ROWS_LOGIN, REGION_LOGINS
from spw.config import spw_home, venv_bin
from spw.errors import SpwError
from spw.secrets import get_secret, role_password, superset_secret_key

CONFIG_FILE = Path(__file__).with_name("superset_config.py")
ADMIN_USER = "admin"
DEFAULT_PORT = 8088
DEFAULT_WORKERS, DEFAULT_THREADS = 2, 4
# Environment the caller may have that would leak the Airflow venv into Superset's interpreter.
_SCRUB = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "SQLALCHEMY_WARN_20")


def state_dir() -> Path:
    d = spw_home() / "superset"
    d.mkdir(parents=True, exist_ok=True)
    return d


def admin_password() -> str:
    return get_secret("SPW_SUPERSET_ADMIN_PASSWORD", "superset_admin_password")


def metadata_url() -> str:
    """SQLAlchemy URL of the metadata database (psycopg2 driver: the one in the Superset venv)."""
    return db.url("superset", "spw_superset").replace("postgresql://", "postgresql+psycopg2://", 1)


def superset_env() -> dict[str, str]:
    """Environment for any Superset subprocess (CLI or gunicorn)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    home = state_dir() / "home"
    home.mkdir(exist_ok=True)
    env.update({
        "SUPERSET_CONFIG_PATH": str(CONFIG_FILE),
        "SUPERSET_SECRET_KEY": superset_secret_key(),
        "SPW_SUPERSET_DATABASE_URI": metadata_url(),
        "SUPERSET_HOME": str(home),
        "FLASK_APP": "superset.app:create_app()",
        "PATH": f"{venv_bin('superset', 'python').parent}:{env.get('PATH', '/usr/bin:/bin')}",
        "SUPERSET_LOG_LEVEL": "warning",
    })
    # The warehouse logins Superset switches to per user (superset_hooks.warehouse_logins); the
    # national login's password travels with the bundle's database connection instead.
    env.update({f"SPW_PASSWORD_{login.upper()}": role_password(login) for login in (*REGION_LOGINS, NO_ROWS_LOGIN)})
    return env


def run_cli(*args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """`superset <args>` in the Superset venv; raises SpwError with the output tail on failure."""
    cmd = [str(venv_bin("superset", "superset")), *args]
    proc = subprocess.run(cmd, env=superset_env(), capture_output=True, text=True, timeout=timeout,
                          cwd=state_dir())
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise SpwError(f"`superset {' '.join(args[:1])}` failed (exit {proc.returncode}):\n{tail}")
    return proc


# ---------------------------------------------------------------- init


def _schema_fingerprint() -> str | None:
    """alembic head of the metadata DB plus whether the admin exists; None when not initialised."""
    try:
        with db.connect("superset", "spw_superset") as conn:
            head = conn.execute("select version_num from alembic_version").fetchone()
            admin = conn.execute("select 1 from ab_user where username = %s", (ADMIN_USER,)).fetchone()
            perms = conn.execute("select count(*) from ab_permission_view").fetchone()
    except Exception:  # noqa: BLE001 - any failure means "not initialised yet"
        return None
    if not head or not admin or not perms or perms[0] == 0:
        return None
    return head[0]


def _marker_key() -> str:
    # Re-initialise when the Superset venv or our settings change.
    version = (venv_bin("superset", "python").parent.parent / "pyvenv.cfg").read_text()
    return hashlib.sha256((version + CONFIG_FILE.read_text()).encode()).hexdigest()[:16]


def init(force: bool = False) -> bool:
    """db upgrade + admin + init, skipped when the metadata DB is already at the recorded state.

    Returns True when work was done. Idempotent: a re-run costs one query.
    """
    marker = state_dir() / "init.json"
    head = _schema_fingerprint()
    if not force and head and marker.exists():
        recorded = json.loads(marker.read_text())
        if recorded.get("alembic_head") == head and recorded.get("key") == _marker_key():
            return False
    run_cli("db", "upgrade")
    _ensure_admin()
    run_cli("init")
    marker.write_text(json.dumps({"alembic_head": _schema_fingerprint(), "key": _marker_key()}))
    return True


# Creates the admin, or resets its password, from a JSON spec read on stdin: the password never
# appears on a command line (`fab create-admin --password` shows it in every process list) nor in
# the environment (readable in /proc) or a log.
ADMIN_SCRIPT = """
import json, sys
from flask import current_app
from superset.app import create_app

spec = json.load(sys.stdin)
with create_app().app_context():
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=spec["username"])
    if user:
        sm.reset_password(user.id, spec["password"])
    elif not sm.add_user(spec["username"], spec["firstname"], spec["lastname"], spec["email"],
                         sm.find_role(sm.auth_role_admin), spec["password"]):
        sys.exit("the Superset admin user was not created")
"""


def admin_command() -> list[str]:
    """The command `_ensure_admin` runs (the password goes to its stdin)."""
    return [str(venv_bin("superset", "python")), "-c", ADMIN_SCRIPT]


def _ensure_admin() -> None:
    """Create the admin once; on re-runs reset its password to the current secret."""
    spec = {"username": ADMIN_USER, "firstname": "Warehouse", "lastname": "Admin", "email": "admin@spw.invalid",
            "password": admin_password()}
    proc = subprocess.run(admin_command(), input=json.dumps(spec), env=superset_env(), capture_output=True,
                          text=True, timeout=600, cwd=state_dir())
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise SpwError(f"creating the Superset admin failed (exit {proc.returncode}):\n{tail}")


# ---------------------------------------------------------------- gunicorn


def _pid_file() -> Path:
    return state_dir() / "superset.pid"


def _port_file() -> Path:
    return state_dir() / "port"


def running_pid() -> int | None:
    path = _pid_file()
    if not path.exists():
        return None
    pid = int(path.read_text().strip())
    return pid if services.alive(pid) else None


def port() -> int | None:
    return int(_port_file().read_text()) if _port_file().exists() else None


def base_url() -> str:
    p = port()
    if p is None:
        raise SpwError("Superset is not running: start it with `spw serve`.")
    return f"http://127.0.0.1:{p}"


def result_cache_dir() -> Path:
    """Chart results of the local deployment (superset_config.DATA_CACHE_CONFIG, FileSystemCache)."""
    return spw_home() / "superset" / "home" / "cache" / "spw_data"  # not state_dir(): creates nothing


def clear_result_cache() -> int:
    """Drop every cached chart result (after new data has landed); return how many were dropped.

    The file cache is shared by the gunicorn workers, so the next request of each chart and region
    reads the warehouse again. (With Redis, as in docker, results expire after the cache timeout.)
    """
    folder = result_cache_dir()
    if not folder.is_dir():
        return 0
    dropped = 0
    for path in folder.iterdir():
        if path.is_file():
            path.unlink(missing_ok=True)
            dropped += 1
    return dropped


def gunicorn_shape() -> tuple[int, int]:
    """(workers, threads): $SPW_SUPERSET_WORKERS / $SPW_SUPERSET_THREADS, default 2 x 4."""
    return (int(os.environ.get("SPW_SUPERSET_WORKERS") or DEFAULT_WORKERS),
            int(os.environ.get("SPW_SUPERSET_THREADS") or DEFAULT_THREADS))


def start(port: int | None = None, workers: int | None = None, threads: int | None = None,
          timeout: float = 180.0) -> int:
    """Start gunicorn on 127.0.0.1 in its own process group and wait for /health; return its pid.

    Re-uses a running server. `port=None` means $SPW_SUPERSET_PORT, else 8088 when free, else any.
    """
    default_workers, default_threads = gunicorn_shape()
    workers, threads = workers or default_workers, threads or default_threads
    pid = running_pid()
    if pid:
        return pid
    init()
    chosen = port or _choose_port()
    log = services.logs_dir() / "superset.log"
    cmd = [str(venv_bin("superset", "gunicorn")), "--bind", f"127.0.0.1:{chosen}", "--workers", str(workers),
           "--worker-class", "gthread", "--threads", str(threads), "--timeout", "120",
           "--graceful-timeout", "10", "superset.app:create_app()"]
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, env=superset_env(), cwd=state_dir(), stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file().write_text(str(proc.pid))
    _port_file().write_text(str(chosen))
    if not _wait_healthy(chosen, proc.pid, timeout):
        stop()
        raise SpwError(f"Superset did not become healthy on port {chosen}; see {log}")
    return proc.pid


def serve(port: int | None = None) -> str:
    """Start (or re-use) Superset and return its URL: what `spw serve` prints."""
    start(port)
    return base_url()


def _choose_port() -> int:
    wanted = int(os.environ.get("SPW_SUPERSET_PORT") or DEFAULT_PORT)
    return wanted if not services.wait_for_port(wanted, timeout=0.1) else services.free_port()


def _wait_healthy(port: int, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not services.alive(pid):
            return False
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def stop(timeout: float = 15.0) -> bool:
    """SIGTERM the gunicorn process group, escalate to SIGKILL. True if a server was stopped."""
    path = _pid_file()
    if not path.exists():
        return False
    pid = int(path.read_text().strip())
    was_alive = services.alive(pid)
    if was_alive:
        _killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while services.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    _killpg(pid, signal.SIGKILL)  # also reaps stray workers of a dead master
    _reap(pid)
    path.unlink(missing_ok=True)
    _port_file().unlink(missing_ok=True)
    return was_alive


def _killpg(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status when we are the parent, so no zombie is left behind."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
