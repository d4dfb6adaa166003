"""Superset settings for the warehouse, loaded by Superset through SUPERSET_CONFIG_PATH.

This file runs inside the Superset venv (SQLAlchemy 1.4), so it imports nothing from `spw`: everything
it needs arrives in environment variables set by `spw.superset.server.superset_env()`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

from flask import g, has_app_context, has_request_context
from sqlalchemy.pool import NullPool
from superset.security import SupersetSecurityManager
from superset.utils.log import DBEventLogger

_DEFAULT_KEYS = {"", "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET", "thisISaSECRET_1234"}


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"{name} must be set (spw.superset.server sets it); refusing to start")
    return value


def _metadata_uri() -> str:
    """SPW_SUPERSET_DATABASE_URI (spw.superset.server) or SPW_SUPERSET_METADATA_URL (docker compose)."""
    uri = os.environ.get("SPW_SUPERSET_DATABASE_URI") or _required("SPW_SUPERSET_METADATA_URL")
    # psycopg2 is the driver installed in the Superset venv.
    return uri.replace("postgresql://", "postgresql+psycopg2://", 1)


# Metadata database: the `superset` database on the warehouse server, as role spw_superset.
SQLALCHEMY_DATABASE_URI = _metadata_uri()
SQLALCHEMY_TRACK_MODIFICATIONS = False

# Signing key for sessions and CSRF tokens: from the environment only, never Superset's default.
SECRET_KEY = _required("SUPERSET_SECRET_KEY")
if SECRET_KEY in _DEFAULT_KEYS or len(SECRET_KEY) < 32:
    raise RuntimeError("SUPERSET_SECRET_KEY is a default or too short (32+ characters needed)")

DATA_DIR = os.environ.get("SUPERSET_HOME") or os.path.join(os.getcwd(), "superset_home")

# No demo content: the only dashboards are the project's bundle.
SUPERSET_LOAD_EXAMPLES = False

# CSRF on for forms and the API (the bundle import and RLS calls send the token).
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = int(timedelta(hours=8).total_seconds())

# Sessions end after a working day; cookies are HttpOnly and SameSite=Lax. Secure cookies need
# HTTPS, which a reverse proxy provides in production (SPW_SUPERSET_HTTPS=1).
_HTTPS = os.environ.get("SPW_SUPERSET_HTTPS", "0") == "1"
PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _HTTPS
REMEMBER_COOKIE_DURATION = timedelta(hours=8)

# Talisman (security headers + CSP) set explicitly: same-origin only, no third-party tiles or
# trackers, nonce-based scripts.
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": _HTTPS,
    "session_cookie_secure": _HTTPS,
    "frame_options": "SAMEORIGIN",
}
TALISMAN_DEV_CONFIG = TALISMAN_CONFIG
CONTENT_SECURITY_POLICY_WARNING = False

# Caches: Redis when a URL is given (docker), otherwise files under SUPERSET_HOME, which every gunicorn
# worker shares (a per-process memory cache answered a repeat only when it reached the same worker).
# Result cache keys include the user's RLS clauses, so cached rows never cross regions; the files are
# mode 600.
_REDIS = os.environ.get("SPW_SUPERSET_REDIS_URL", "")


def _cache(prefix: str, timeout: int) -> dict:
    if _REDIS:
        return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": _REDIS, "CACHE_KEY_PREFIX": prefix,
                "CACHE_DEFAULT_TIMEOUT": timeout}
    return {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": os.path.join(DATA_DIR, "cache", prefix.strip("_")),
            "CACHE_DEFAULT_TIMEOUT": timeout, "CACHE_THRESHOLD": 5000}


# Chart results: the published tables change only when the pipeline runs, so a result is kept for an
# hour (SPW_SUPERSET_DATA_CACHE_SECONDS); `spw run` clears the local result cache when new data lands
# (spw.superset.server.clear_result_cache). Re-importing the bundle changes the datasets, which are part
# of every result's key, so results of old definitions are never served either.
DATA_CACHE_SECONDS = int(os.environ.get("SPW_SUPERSET_DATA_CACHE_SECONDS", "3600"))
CACHE_CONFIG = _cache("spw_obj_", 600)
DATA_CACHE_CONFIG = _cache("spw_data_", DATA_CACHE_SECONDS)
if _REDIS:
    FILTER_STATE_CACHE_CONFIG = _cache("spw_filter_", 86400)
    EXPLORE_FORM_DATA_CACHE_CONFIG = _cache("spw_explore_", 86400)

# Login throttling on (Superset enables it only when SUPERSET_ENV=production).
RATELIMIT_ENABLED = True
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = os.environ.get("SPW_SUPERSET_AUTH_RATE_LIMIT", "10 per second")
# Superset's default of 50 requests a second per client address (per worker) is below what one
# reverse proxy in front of many users sends when a few of them open a 14-chart dashboard at once.
RATELIMIT_APPLICATION = os.environ.get("SPW_SUPERSET_APP_RATE_LIMIT", "300 per second")

# No self-registration, no public role: every login is a named account with a data role.
AUTH_USER_REGISTRATION = False
PUBLIC_ROLE_LIKE = None

# Databases added through the UI may not point at SQLite files.
PREVENT_UNSAFE_DB_CONNECTIONS = True

FEATURE_FLAGS = {
    "DASHBOARD_RBAC": False,
    "ENABLE_TEMPLATE_PROCESSING": False,
    "ALERT_REPORTS": False,
    "THUMBNAILS": False,
}

# Keep query rows bounded for interactive dashboards.
ROW_LIMIT = 50000
SQL_MAX_ROW = 100000
SUPERSET_WEBSERVER_TIMEOUT = 60

LOG_LEVEL = os.environ.get("SPW_SUPERSET_LOG_LEVEL", "WARNING")

# NHS identity colours that keep at least 3:1 contrast against the white background (WCAG 2.2
# SC 1.4.11, non-text contrast) and 4.5:1 where they are used for text; the pale NHS tints fail and
# are left out. Set as the default scheme, and named by the bundle's dashboards.
EXTRA_CATEGORICAL_COLOR_SCHEMES = [
    {
        "id": "nhsAccessible",
        "description": "NHS colours with WCAG 2.2 AA contrast on white",
        "label": "NHS accessible",
        "isDefault": True,
        "colors": ["#005EB8", "#8A1538", "#006747", "#330072", "#AE2573", "#425563", "#003087",
                   "#7C2855", "#00573F", "#231F20"],
    }
]
RATELIMIT_STORAGE_URI = _REDIS or "memory://"


# ---------------------------------------------------------------- per-request cost
# A chart-data request spent most of its time in round trips to the metadata database, not in the
# warehouse (docs/benchmarks.md#dashboards): Superset's event logger wrote and committed a row for
# every internal step (6 or 7 per request), and each commit expired the loaded user and dataset so
# they were read again; and every permission check was its own query (9 per request).


class RequestEventLogger(DBEventLogger):
    """Audit log with one row per request (the outermost event: who opened which chart, how long).

    Nested timing events (SQL execution, dataframe load, JSON encoding, ...) are not written.
    """

    @contextmanager
    def log_context(self, action: str, object_ref: str | None = None, log_to_statsd: bool = True,
                    **kwargs: Any) -> Iterator[Callable[..., None]]:
        if not has_app_context() or g.get("spw_event_open"):
            yield lambda **_: None
            return
        g.spw_event_open = True
        try:
            with super().log_context(action, object_ref, log_to_statsd, **kwargs) as log:
                yield log
        finally:
            g.spw_event_open = False


EVENT_LOGGER = RequestEventLogger()


class RequestCachedSecurityManager(SupersetSecurityManager):
    """Reads the (permission, view) pairs of the user's roles once per request, not once per check.

    The cache lives in flask.g, so a grant or revocation applies from the next request on.
    """

    def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids: list[int]) -> bool:
        if not has_request_context():  # CLI commands (superset init) change roles as they go
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        cache: dict[tuple[int, ...], set[tuple[str, str]]] = g.setdefault("spw_role_permissions", {})
        key = tuple(sorted(role_ids))
        if key not in cache:
            cache[key] = self._permissions_of(key)
        return (permission_name, view_name) in cache[key]

    _public: tuple[float, set[tuple[str, str]]] = (0.0, set())

    def is_item_public(self, permission_name: str, view_name: str) -> bool:
        # Asked twice per API request (two metadata queries each time); the public role holds no
        # permissions here (PUBLIC_ROLE_LIKE = None), so its set is read at most once a minute per process.
        if not has_request_context():
            return super().is_item_public(permission_name, view_name)
        read_at, permissions = RequestCachedSecurityManager._public
        if time.monotonic() - read_at > 60:
            role = self.get_public_role()
            permissions = self._permissions_of((role.id,)) if role else set()
            RequestCachedSecurityManager._public = (time.monotonic(), permissions)
        return (permission_name, view_name) in permissions

    def _permissions_of(self, role_ids: tuple[int, ...]) -> set[tuple[str, str]]:
        pv, perm, view = self.permissionview_model, self.permission_model, self.viewmenu_model
        rows = (self.session.query(perm.name, view.name)
                .select_from(pv).join(perm, pv.permission_id == perm.id).join(view, pv.view_menu_id == view.id)
                .join(self.role_model.permissions.property.secondary,
                      self.role_model.permissions.property.secondary.c.permission_view_id == pv.id)
                .filter(self.role_model.permissions.property.secondary.c.role_id.in_(role_ids))
                .distinct())
        return {(p, v) for p, v in rows}


CUSTOM_SECURITY_MANAGER = RequestCachedSecurityManager


# ---------------------------------------------------------------- warehouse connections
# Superset builds a new SQLAlchemy engine with a NullPool for every chart query, so each query opened a
# new Postgres connection (fork plus SCRAM authentication): about 50 ms of a 5 ms query. The hook below
# keeps the engines Superset asks for but lets them share idle connections within the worker process:
# a connection goes back to a small per-process store after a rollback and DISCARD ALL (settings,
# temporary tables, prepared statements, advisory locks, LISTEN), keyed by URL and connect arguments,
# and is dropped after 5 minutes idle, when broken or invalidated, or when the store is full. Row-level
# security is part of each query's SQL, not of the session, so a reused connection carries nothing
# from one user to another.

_SHARE_CONNECTIONS = os.environ.get("SPW_SUPERSET_SHARE_CONNECTIONS", "1") != "0"  # 0: Superset's own way
_IDLE_SECONDS = 300.0
_IDLE_PER_KEY = int(os.environ.get("SPW_SUPERSET_IDLE_CONNECTIONS", "8"))
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
        if len(idle) >= _IDLE_PER_KEY:
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
            if now - since < _IDLE_SECONDS and not conn.closed:
                found = conn
            else:
                stale.append(conn)
        stale += [conn for since, conn in idle if now - since >= _IDLE_SECONDS]
        idle[:] = [(since, conn) for since, conn in idle if now - since < _IDLE_SECONDS]
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


def DB_CONNECTION_MUTATOR(uri: Any, params: dict[str, Any], username: str | None, security_manager: Any,  # noqa: N802
                          source: Any) -> tuple[Any, dict[str, Any]]:
    """Swap Superset's per-query NullPool for the shared idle store (PostgreSQL through psycopg2 only)."""
    if _SHARE_CONNECTIONS and params.get("poolclass") is NullPool and uri.drivername in (
            "postgresql", "postgresql+psycopg2"):
        identity = repr((uri.render_as_string(hide_password=False), sorted(params.get("connect_args", {}).items())))
        params["poolclass"] = _pool_class(hashlib.sha256(identity.encode()).hexdigest())
        # Every new engine would look up hstore's type OIDs (a catalogue query); the warehouse has none.
        params.setdefault("use_native_hstore", False)
    return uri, params
