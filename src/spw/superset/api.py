"""A small Superset REST client: JWT login, CSRF token, JSON calls; shared by security, tests, benchmark."""

from __future__ import annotations

from typing import Any

import requests

from spw.errors import SpwError


class SupersetClient:
    """One logged-in user. Sessions keep the cookie that the CSRF token is bound to."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.timeout = timeout
        self.session = requests.Session()
        resp = self.session.post(f"{self.base_url}/api/v1/security/login", timeout=timeout,
                                 json={"username": username, "password": password, "provider": "db",
                                       "refresh": False})
        if resp.status_code != 200:
            raise SpwError(f"Superset login failed for {username}: HTTP {resp.status_code} {resp.text[:200]}")
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        csrf = self.session.get(f"{self.base_url}/api/v1/security/csrf_token/", timeout=timeout)
        csrf.raise_for_status()
        # Flask-WTF checks the Referer on HTTPS only; sending it keeps proxies in front happy too.
        self.session.headers.update({"X-CSRFToken": csrf.json()["result"], "Referer": self.base_url})

    def request(self, method: str, path: str, expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        resp = self.session.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs)
        if resp.status_code not in expect:
            raise SpwError(f"{method} {path} as {self.username}: HTTP {resp.status_code} {resp.text[:500]}")
        return resp.json() if resp.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PUT", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def list_all(self, resource: str, columns: list[str] | None = None, page_size: int = 100,
                 order_column: str | None = None) -> list[dict]:
        """Every row of a list endpoint (/api/v1/<resource>/), following pages.

        Pages are LIMIT/OFFSET queries, and an endpoint without a default order (Flask-AppBuilder's
        security lists: roles, users, permissions-resources) leaves the row order to PostgreSQL's plan,
        which can differ between pages: rows then come twice and others never. Pass `order_column`
        (e.g. "id", where the endpoint allows ordering by it) whenever a list may span pages; a list
        whose pages overlapped is refused rather than returned short.
        """
        rows: list[dict] = []
        page = 0
        while True:
            q: dict[str, Any] = {"page": page, "page_size": page_size}
            if columns:
                q["columns"] = columns
            if order_column:
                q.update({"order_column": order_column, "order_direction": "asc"})
            batch = self.get(f"/api/v1/{resource}/", params={"q": _rison(q)})
            rows.extend(batch["result"])
            if len(rows) >= batch.get("count", 0) or not batch["result"]:
                break
            page += 1
        ids = [r["id"] for r in rows if "id" in r]
        if len(ids) == len(rows) and len(set(ids)) < len(ids):
            raise SpwError(f"/api/v1/{resource}/: {len(ids) - len(set(ids))} of {len(ids)} rows came on more than "
                           "one page (no stable order across pages), so others were missed; list it with an "
                           "order_column")
        return rows


def _rison(obj: Any) -> str:
    """Minimal rison encoder for the list queries used here (dicts, lists, ints, plain strings)."""
    if isinstance(obj, dict):
        return "(" + ",".join(f"{k}:{_rison(v)}" for k, v in obj.items()) + ")"
    if isinstance(obj, list | tuple):
        return "!(" + ",".join(_rison(v) for v in obj) + ")"
    if isinstance(obj, bool):
        return "!t" if obj else "!f"
    if isinstance(obj, int | float):
        return str(obj)
    text = str(obj)
    if text and all(ch.isalnum() or ch in "_-./~" for ch in text) and not text[0].isdigit():
        return text
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"
