"""Long-running processes of ours (Airflow UI, scheduler, Superset), each in its own process group.

A pid file per service lives in $SPW_HOME/run; `stop` sends SIGTERM to the whole group and escalates
to SIGKILL after a timeout, so `spw down` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from spw.config import spw_home


@dataclass(frozen=True)
class Service:
    name: str
    pid: int
    port: int | None
    log: str


def run_dir() -> Path:
    d = spw_home() / "run"
    d.mkdir(parents=True, exist_ok=True)
    return d


def logs_dir() -> Path:
    d = spw_home() / "logs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _pidfile(name: str) -> Path:
    return run_dir() / f"{name}.json"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def get(name: str) -> Service | None:
    path = _pidfile(name)
    if not path.exists():
        return None
    info = json.loads(path.read_text())
    svc = Service(name, int(info["pid"]), info.get("port"), info["log"])
    return svc if alive(svc.pid) else None


def start(name: str, cmd: list[str], env: dict[str, str], port: int | None = None, cwd: str | None = None) -> Service:
    """Start cmd detached in a new session (its own process group), logging to $SPW_HOME/logs."""
    existing = get(name)
    if existing:
        return existing
    log = logs_dir() / f"{name}.log"
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    _pidfile(name).write_text(json.dumps({"pid": proc.pid, "port": port, "log": str(log), "cmd": cmd[:3]}))
    return Service(name, proc.pid, port, str(log))


def stop(name: str, timeout: float = 10.0) -> bool:
    """SIGTERM the service's process group, SIGKILL after timeout. True if something was stopped."""
    path = _pidfile(name)
    if not path.exists():
        return False
    pid = int(json.loads(path.read_text())["pid"])
    stopped = False
    if alive(pid):
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        _signal_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped = True
    else:
        _signal_group(pid, signal.SIGKILL)  # stray children of a dead leader
    path.unlink(missing_ok=True)
    return stopped


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def known() -> list[str]:
    return sorted(p.stem for p in run_dir().glob("*.json"))


def wait_for_port(port: int, timeout: float = 120.0, pid: int | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        if pid is not None and not alive(pid):
            return False
        time.sleep(0.5)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
