"""Superset's security manager: permission look-ups kept per role set for a few seconds; form logins
rate-limited.

Every permission check was its own metadata query (9 per chart-data request), and every dashboard API
call read the names of the datasets, schemas, catalogs and databases the user may read in 4 more.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import g, has_request_context
from superset.security import SupersetSecurityManager

# How long a role set's permissions are kept per process (SPW_SUPERSET_PERMISSION_SECONDS): a grant or
# revocation applies to every request within this many seconds. 0: read once per request.
PERMISSION_SECONDS = float(os.environ.get("SPW_SUPERSET_PERMISSION_SECONDS", "10"))
_MAX_KEPT = 1024
_kept: dict[tuple, tuple[float, Any]] = {}
_kept_lock = threading.Lock()


def _keep(key: tuple, build: Callable[[], Any]) -> Any:
    """`build()` kept under `key` for PERMISSION_SECONDS in this process, and within a request anyway."""
    per_request: dict[tuple, Any] = g.setdefault("spw_permissions", {})
    if key in per_request:
        return per_request[key]
    now = time.monotonic()
    hit = _kept.get(key)
    if hit is not None and now - hit[0] < PERMISSION_SECONDS:
        value = hit[1]
    else:
        value = build()
        if PERMISSION_SECONDS > 0:
            with _kept_lock:
                if len(_kept) >= _MAX_KEPT:
                    _kept.clear()
                _kept[key] = (now, value)
    per_request[key] = value
    return value


class RequestCachedSecurityManager(SupersetSecurityManager):
    """Reads the (permission, view) pairs of a role set once, not once per check, and keeps them for
    PERMISSION_SECONDS (10) per process; likewise the names of what the user's roles may read.

    Entries are per role set (and group set), never per user name: users with the same roles hold the
    same permissions. A grant or revocation applies within PERMISSION_SECONDS.
    """

    def register_views(self) -> None:
        super().register_views()
        # Superset 6.1 puts AUTH_RATE_LIMIT on its own /login view, which only serves the page (GET),
        # and switches the limit off while Flask-AppBuilder registers the view that receives the form's
        # POST: password guesses went unlimited. The limit goes on that view here.
        if self.is_auth_limited and getattr(self.auth_view, "blueprint", None) is not None:
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(self.auth_view.blueprint)

    def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids: list[int]) -> bool:
        if not has_request_context():  # CLI commands (superset init) change roles as they go
            return super().exist_permission_on_roles(view_name, permission_name, role_ids)
        key = tuple(sorted(role_ids))
        return (permission_name, view_name) in _keep(("pairs", key), lambda: self._permissions_of(key))

    def user_view_menu_names(self, permission_name: str) -> set[str]:
        # datasource_access, schema_access, catalog_access and database_access: 4 queries on every
        # dashboard API call (its access filter). The answer depends on the user's roles and groups only.
        user = g.get("user") if has_request_context() else None
        if user is None or user.is_anonymous:
            return super().user_view_menu_names(permission_name)
        key = ("views", permission_name, tuple(sorted(r.id for r in user.roles)),
               tuple(sorted(gr.id for gr in getattr(user, "groups", None) or ())))
        return set(_keep(key, lambda: frozenset(super(RequestCachedSecurityManager, self)
                                                .user_view_menu_names(permission_name))))

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
