"""Warehouse connections shared between the engines Superset makes, within one worker process.

Superset builds a new SQLAlchemy engine with a NullPool for every chart query (no setting changes
that), so each query opened a new Postgres connection (fork plus SCRAM authentication): about 50 ms of
a 5 ms query. `shared_idle_pool` keeps the engines Superset asks for but lets them share idle
connections: a connection goes back to a small per-process store after a rollback and DISCARD ALL
(settings, temporary tables, prepared statements, advisory locks, LISTEN), keyed by URL (login
included) and connect arguments, and is dropped after 5 minutes idle, when broken or invalidated, or
when the store is full. A connection is only ever re-used by the same warehouse login, and row-level
security is decided by that login, so nothing of one region's session reaches another's.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from sqlalchemy.pool import NullPool

SHARE_CONNECTIONS = os.environ.get("SPW_SUPERSET_SHARE_CONNECTIONS", "1") != "0"  # 0: Superset's own way
IDLE_SECONDS = 300.0
IDLE_PER_KEY = int(os.environ.get("SPW_SUPERSET_IDLE_CONNECTIONS", "8"))

_idle: dict[str, list[tuple[float, Any]]] = {}
_idle_lock = threading.Lock()
_pool_classes: dict[str, type] = {}


def _close_quietly(conn: Any) -> None:
    with suppress(Exception):
        conn.close()


def _park(key: str, conn: Any) -> bool:
    """Keep a checked-in DBAPI connection for the next engine with the same key; False: close it."""
    try:
        if conn.closed:
            return False
        conn.rollback()
        conn.autocommit = True  # DISCARD ALL cannot run inside a transaction block
        with conn.cursor() as cursor:
            cursor.execute("discard all")
        conn.autocommit = False
    except Exception:  # noqa: BLE001 - a broken connection is closed instead of kept
        return False
    with _idle_lock:
        idle = _idle.setdefault(key, [])
        if len(idle) >= IDLE_PER_KEY:
            return False
        idle.append((time.monotonic(), conn))
    return True


def _unpark(key: str) -> Any | None:
    """The most recently parked live connection for key, or None; stale ones are closed."""
    now, found, stale = time.monotonic(), None, []
    with _idle_lock:
        idle = _idle.get(key, [])
        while idle and found is None:
            since, conn = idle.pop()
            if now - since < IDLE_SECONDS and not conn.closed:
                found = conn
            else:
                stale.append(conn)
        stale += [conn for since, conn in idle if now - since >= IDLE_SECONDS]
        idle[:] = [(since, conn) for since, conn in idle if now - since < IDLE_SECONDS]
    for conn in stale:
        _close_quietly(conn)
    return found


class _SharedIdlePool(NullPool):
    """A NullPool whose checked-in connections are parked for the next engine instead of closed."""

    _key = ""

    def __init__(self, creator: Callable[..., Any], **kwargs: Any) -> None:
        if not getattr(creator, "_spw_shared", False):
            make = creator

            def creator(connection_record: Any = None) -> Any:  # noqa: ARG001 - SQLAlchemy's signature
                return _unpark(self._key) or make(connection_record)

            creator._spw_shared = True  # type: ignore[attr-defined]
        super().__init__(creator, **kwargs)

    def _do_return_conn(self, record: Any) -> None:
        conn = record.dbapi_connection
        if conn is not None and _park(self._key, conn):
            record.dbapi_connection = None  # detached: close() below leaves the parked connection open
        record.close()


def _pool_class(key: str) -> type:
    with _idle_lock:
        if key not in _pool_classes:
            _pool_classes[key] = type("SharedIdlePool", (_SharedIdlePool,), {"_key": key})
        return _pool_classes[key]


def shared_idle_pool(uri: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Engine parameters with Superset's per-query NullPool swapped for the shared idle store
    (PostgreSQL through psycopg2 only; anything else is returned unchanged)."""
    if SHARE_CONNECTIONS and params.get("poolclass") is NullPool and uri.drivername in (
            "postgresql", "postgresql+psycopg2"):
        identity = repr((uri.render_as_string(hide_password=False), sorted(params.get("connect_args", {}).items())))
        params["poolclass"] = _pool_class(hashlib.sha256(identity.encode()).hexdigest())
        # Every new engine would look up hstore's type OIDs (a catalogue query); the warehouse has none.
        params.setdefault("use_native_hstore", False)
    return params
