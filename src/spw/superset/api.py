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

    def list_all(self, resource: str, columns: list[str] | None = None, page_size: int = 100) -> list[dict]:
        """Every row of a list endpoint (/api/v1/<resource>/), following pages."""
        rows: list[dict] = []
        page = 0
        while True:
            q: dict[str, Any] = {"page": page, "page_size": page_size}
            if columns:
                q["columns"] = columns
            batch = self.get(f"/api/v1/{resource}/", params={"q": _rison(q)})
            rows.extend(batch["result"])
            if len(rows) >= batch.get("count", 0) or not batch["result"]:
                return rows
            page += 1


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
