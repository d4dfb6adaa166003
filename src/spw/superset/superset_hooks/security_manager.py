"""Superset's security manager: permission look-ups cached per request; form logins rate-limited.

Every permission check was its own metadata query (9 per chart-data request).
"""

from __future__ import annotations

import time

from flask import g, has_request_context
from superset.security import SupersetSecurityManager


class RequestCachedSecurityManager(SupersetSecurityManager):
    """Reads the (permission, view) pairs of the user's roles once per request, not once per check.

    The cache lives in flask.g, so a grant or revocation applies from the next request on.
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
