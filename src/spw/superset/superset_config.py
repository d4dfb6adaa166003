"""Superset settings for the warehouse, loaded by Superset through SUPERSET_CONFIG_PATH.

This file runs inside the Superset venv (SQLAlchemy 1.4), so it imports nothing from `spw`: everything
it needs arrives in environment variables set by `spw.superset.server.superset_env()`. Code that runs
inside Superset (connections, warehouse login per user, audit log, permission cache, function guard)
lives in the modules of `superset_hooks/` beside it; this file only sets settings.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

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

# Login throttling at Flask-AppBuilder's default: 10 attempts per 20 seconds per client address (and
# gunicorn worker); Superset's own default is 5 a second.
RATELIMIT_ENABLED = True
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = "10 per 20 second"
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


def _themed(theme: dict[str, Any] | None) -> dict[str, Any] | None:
    """Superset's theme with no legend on box plots.

    Superset 6.1's box plot names its series "boxplot" and "outlier" and, through the theme's legend
    styling, shows them in a legend that tells a reader nothing; the interval charts say in their titles,
    axes and descriptions what the boxes are. Superset reads per-chart-type ECharts overrides from
    the theme, so this is a setting rather than a patch.
    """
    if theme is None:
        return None
    return {**theme, "echartsOptionsOverridesByChartType": {"box_plot": {"legend": {"show": False}}}}


# Superset's own config module loads this file as its last step, so its themes are defined by then;
# it is not imported here (a standalone load of this file, as the tests do, keeps Superset's themes).
_SUPERSET_DEFAULTS = sys.modules.get("superset.config")
if _SUPERSET_DEFAULTS is not None:
    THEME_DEFAULT = _themed(_SUPERSET_DEFAULTS.THEME_DEFAULT)
    THEME_DARK = _themed(_SUPERSET_DEFAULTS.THEME_DARK)
RATELIMIT_STORAGE_URI = _REDIS or "memory://"


# ---------------------------------------------------------------- code run inside Superset
# The modules live beside this file (superset_hooks/); appended to the path, so they never shadow
# an installed package.
sys.path.append(os.path.dirname(os.path.abspath(__file__)))

from superset_hooks import connections, dashboard_datasets, sql_guard, warehouse_logins  # noqa: E402
from superset_hooks.event_log import RequestEventLogger  # noqa: E402
from superset_hooks.security_manager import RequestCachedSecurityManager  # noqa: E402

# Per-request cost (docs/benchmarks.md#dashboards): one audit row per request, permissions read once
# per request, a dashboard's datasets built once per version and role set.
EVENT_LOGGER = RequestEventLogger()
CUSTOM_SECURITY_MANAGER = RequestCachedSecurityManager


def FLASK_APP_MUTATOR(app: Any) -> None:  # noqa: N802
    """A dashboard's datasets answer kept per dashboard version and role set (superset_hooks/dashboard_datasets.py)."""
    dashboard_datasets.install()

# Functions no query may call: Superset's default list plus every function that runs SQL given as a
# string; checked in SQL Lab by Superset and in chart queries by the mutator.
DISALLOWED_SQL_FUNCTIONS = {"postgresql": set(sql_guard.POSTGRESQL)}
SQL_QUERY_MUTATOR = sql_guard.refuse_disallowed_functions


def DB_CONNECTION_MUTATOR(uri: Any, params: dict[str, Any], username: str | None, security_manager: Any,  # noqa: N802
                          source: Any) -> tuple[Any, dict[str, Any]]:
    """Each user's queries run as the warehouse login of their region, on shared idle connections."""
    uri = warehouse_logins.url_for_user(uri, username, security_manager)
    return uri, connections.shared_idle_pool(uri, params)
