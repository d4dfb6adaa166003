"""Which warehouse login a Superset user's queries run as: the database enforces the user's region.

The bundle's warehouse connection names the national login (`spw_bi_reader`). For each query Superset
asks `DB_CONNECTION_MUTATOR` for the engine's URL, and this module swaps in the login of the user's
data role: `nhs_region_<code>` -> `spw_bi_region_<code>` (Postgres row-level security gives it that
region's rows and England's), a national role (`nhs_england`, `spw_analyst`, `Admin`) keeps the
national login, and anyone else (no data role, several regions, no logged-in user) gets
`spw_bi_no_rows`, which reads nothing. So SQL that gets past Superset's own checks still sees one
region. Passwords come from `SPW_PASSWORD_<LOGIN>` (set by spw.superset.server.superset_env()).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from flask import g, has_request_context

NATIONAL_LOGIN = "spw_bi_reader"
NO_ROWS_LOGIN = "spw_bi_no_rows"
NATIONAL_ROLES = frozenset({"Admin", "nhs_england", "spw_analyst"})
_REGION_ROLE = re.compile(r"nhs_region_(y\d\d)")


def login_for_roles(role_names: Iterable[str]) -> str:
    """The warehouse login for a user holding these Superset roles."""
    names = set(role_names)
    if names & NATIONAL_ROLES:
        return NATIONAL_LOGIN
    regions = sorted({m.group(1) for name in names if (m := _REGION_ROLE.fullmatch(name))})
    # Two regions cannot share one login: such a user gets no rows rather than either region.
    return f"spw_bi_region_{regions[0]}" if len(regions) == 1 else NO_ROWS_LOGIN


def _role_names(username: str | None, security_manager: Any) -> list[str]:
    if not username:
        return []
    user = g.get("user") if has_request_context() else None
    if user is None or getattr(user, "username", None) != username:
        user = security_manager.find_user(username=username) if security_manager else None
    return [role.name for role in getattr(user, "roles", None) or []]


def password_of(login: str) -> str:
    password = os.environ.get(f"SPW_PASSWORD_{login.upper()}", "")
    if not password:
        # Fail closed: without its own login a regional user must not fall back to the national one.
        raise RuntimeError(f"SPW_PASSWORD_{login.upper()} is not set: no warehouse login for this user")
    return password


def url_for_user(uri: Any, username: str | None, security_manager: Any) -> Any:
    """The URL with the user's warehouse login; URLs of any other login are left alone."""
    if uri.username != NATIONAL_LOGIN:
        return uri
    login = login_for_roles(_role_names(username, security_manager))
    if login == NATIONAL_LOGIN:
        return uri
    return uri.set(username=login, password=password_of(login))
