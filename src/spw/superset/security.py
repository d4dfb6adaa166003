"""Apply dashboards/security/{roles,rls}.yaml through Superset's REST API, idempotently.

Roles and row-level security are not part of a Superset bundle, so they live as YAML next to it:
roles get datasource access to the bundle's datasets; RLS rules limit rows by region_code; a Base
rule `1 = 0` denies rows to anyone holding none of the data roles. (The warehouse enforces the same
regions again: each user's queries run as their region's login, superset_hooks.warehouse_logins.)
Demo users (steering-group logins with generated passwords, kept in
$SPW_HOME/secrets/superset_users.json) are created in demo mode only (`spw demo`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spw.config import dashboards_dir
from spw.errors import SpwError
from spw.secrets import get_secret, json_secret_file, write_json_secret
from spw.superset import server
from spw.superset.api import SupersetClient

USERS_FILE = "superset_users.json"


def security_dir() -> Path:
    return dashboards_dir() / "security"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((security_dir() / name).read_text())


def user_password(username: str) -> str:
    """Generated once per user and re-used, so demo logins survive a re-import."""
    env = "SPW_SUPERSET_PASSWORD_" + re.sub(r"\W", "_", username).upper()
    return get_secret(env, f"superset_user_{username}")


def users_file() -> Path:
    return json_secret_file(USERS_FILE)


@dataclass
class Catalogue:
    """Ids Superset assigned: roles, datasets of the bundle, permission-view pairs."""

    roles: dict[str, int]
    datasets: dict[str, int]
    perms: dict[tuple[str, str], int]


def _catalogue(api: SupersetClient, tables: list[str]) -> Catalogue:
    # Flask-AppBuilder's security lists have no default order: page them by id (api.list_all).
    roles = {r["name"]: r["id"] for r in api.list_all("security/roles", ["id", "name"], order_column="id")}
    found = {d["table_name"]: d["id"] for d in api.list_all("dataset", ["id", "table_name", "schema"])
             if d["schema"] == "published"}
    missing = [t for t in tables if t not in found]
    if missing:
        raise SpwError(f"datasets missing in Superset (import the bundle first): {', '.join(missing)}")
    perms = {}
    for pv in api.list_all("security/permissions-resources", order_column="id"):
        perms[(pv["permission"]["name"], pv["view_menu"]["name"])] = pv["id"]
    return Catalogue(roles, {t: found[t] for t in tables}, perms)


def _ensure_role(api: SupersetClient, cat: Catalogue, name: str) -> int:
    if name not in cat.roles:
        cat.roles[name] = api.post("/api/v1/security/roles/", {"name": name})["id"]
    return cat.roles[name]


def _role_permissions(cat: Catalogue, role: dict[str, Any]) -> list[int]:
    wanted: list[int] = []
    if role.get("datasets"):
        for table, ds_id in cat.datasets.items():
            key = next((k for k in cat.perms if k[0] == "datasource_access"
                        and k[1].endswith(f".[{table}](id:{ds_id})")), None)
            if key is None:
                raise SpwError(f"no datasource_access permission for dataset {table}")
            wanted.append(cat.perms[key])
    for permission, view in role.get("permissions", []):
        if (permission, view) not in cat.perms:
            on_view = sorted(p for p, v in cat.perms if v == view)
            raise SpwError(f"role {role['name']}: Superset has no permission {permission} on {view} (of the "
                           f"{len(cat.perms)} permission-resource pairs it lists, {view} has "
                           f"{', '.join(on_view) or 'none'}); roles.yaml may name only pairs that "
                           "`superset init` creates")
        wanted.append(cat.perms[(permission, view)])
    if role.get("database_access"):
        key = next((k for k in cat.perms if k[0] == "database_access" and k[1].startswith("[Warehouse")), None)
        if key is None:
            raise SpwError("no database_access permission for the warehouse database")
        wanted.append(cat.perms[key])
    return sorted(wanted)


def apply_roles(api: SupersetClient, cat: Catalogue, config: dict[str, Any]) -> None:
    for role in config["roles"]:
        role_id = _ensure_role(api, cat, role["name"])
        # POST replaces the role's permission set: re-runs converge to the YAML.
        api.post(f"/api/v1/security/roles/{role_id}/permissions",
                 {"permission_view_menu_ids": _role_permissions(cat, role)})


def apply_users(api: SupersetClient, cat: Catalogue, config: dict[str, Any]) -> dict[str, str]:
    existing = {u["username"]: u["id"] for u in api.list_all("security/users", ["id", "username"],
                                                                order_column="id")}
    passwords = {}
    for user in config["demo_users"]:
        missing = [r for r in user["roles"] if r not in cat.roles]
        if missing:
            raise SpwError(f"user {user['username']}: unknown roles {missing}")
        body = {
            "first_name": str(user["first_name"]), "last_name": str(user["last_name"]),
            "email": f"{user['username']}@spw.invalid", "active": True,
            "roles": [cat.roles[r] for r in user["roles"]],
            "password": user_password(user["username"]),
        }
        if user["username"] in existing:
            api.put(f"/api/v1/security/users/{existing[user['username']]}", body)
        else:
            api.post("/api/v1/security/users/", {"username": user["username"], **body})
        passwords[user["username"]] = body["password"]
    return passwords


def apply_rls(api: SupersetClient, cat: Catalogue, config: dict[str, Any]) -> None:
    existing = {r["name"]: r["id"] for r in api.list_all("rowlevelsecurity", ["id", "name"])}
    wanted_names = set()
    for rule in config["rules"]:
        missing = [r for r in rule["roles"] if r not in cat.roles]
        if missing:
            raise SpwError(f"RLS rule {rule['name']}: unknown roles {missing}")
        body = {
            "name": rule["name"], "description": rule.get("description", ""),
            "filter_type": rule["filter_type"], "group_key": rule.get("group_key") or "",
            "clause": rule["clause"], "tables": sorted(cat.datasets.values()),
            "roles": sorted(cat.roles[r] for r in rule["roles"]),
        }
        wanted_names.add(rule["name"])
        if rule["name"] in existing:
            api.put(f"/api/v1/rowlevelsecurity/{existing[rule['name']]}", body)
        else:
            api.post("/api/v1/rowlevelsecurity/", body)
    # Rules removed from the YAML are removed from Superset too: the YAML is the whole truth.
    for name, rule_id in existing.items():
        if name not in wanted_names:
            api.delete(f"/api/v1/rowlevelsecurity/{rule_id}")


def apply(base_url: str, tables: list[str], demo_users: bool = False) -> dict[str, str]:
    """Roles and RLS covering `tables` (the bundle's datasets) on a running Superset, and with
    `demo_users` the demo logins; returns username -> password of those (also written to file)."""
    api = SupersetClient(base_url, server.ADMIN_USER, server.admin_password())
    roles = load("roles.yaml")
    cat = _catalogue(api, tables)
    apply_roles(api, cat, roles)
    passwords = apply_users(api, cat, roles) if demo_users else {}
    apply_rls(api, cat, load("rls.yaml"))
    if demo_users:
        write_json_secret(USERS_FILE, {server.ADMIN_USER: server.admin_password(), **passwords})
    return passwords
