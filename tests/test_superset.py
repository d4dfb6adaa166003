"""Superset against a real warehouse: bundle import, chart queries, row-level security, a real browser.

A real Superset (gunicorn, own venv) is started on a free loopback port with its metadata database in
the test cluster, and stopped at the end. The warehouse is built by the real pipeline (synthetic
deliveries -> loader -> dbt), or taken from the shared `built_warehouse` fixture when there is one.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from superset_helpers import (
    AXE_JS,
    browser,
    build_warehouse,
    chart_data,
    check_dashboard,
    data_rows,
    dataset_ids,
    login,
    raw_rows,
    rows_of,
    run_axe,
    run_chart,
)

from spw import bi_logins, db, services
from spw.config import venv_bin
from spw.superset import bundle, queries, security, server
from spw.superset.api import SupersetClient

pytestmark = [pytest.mark.slow, pytest.mark.uses_built_warehouse]

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "dashboards" / "bundle"
OUTPUT = REPO / "test-output" / "superset"
ENGLAND = "ENG"
# Postgres functions that run SQL given as a string or read a whole schema, database or cursor.
SQL_FROM_STRING = (
    "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "schema_to_xml", "schema_to_xmlschema",
    "schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
    "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema",
    "ts_stat", "ts_rewrite",
)


@pytest.fixture(scope="module")
def warehouse(request: pytest.FixtureRequest, pg_server: str) -> str:
    """A warehouse whose published tables exist: the shared fixture if defined, else built here.

    SPW_TEST_SUPERSET_OWN_BUILD=1 builds directly (synth -> loader -> dbt, no Airflow): quicker when
    running this file alone; =existing uses the warehouse already on the server (with SPW_DATABASE_URL).
    """
    own = os.environ.get("SPW_TEST_SUPERSET_OWN_BUILD", "")
    if own == "1":
        build_warehouse(Path(os.environ["SPW_HOME"]) / "superset-landing")
    elif own != "existing":
        try:
            request.getfixturevalue("built_warehouse")
        except pytest.FixtureLookupError:
            build_warehouse(Path(os.environ["SPW_HOME"]) / "superset-landing")
    with db.connect("warehouse", "spw_bi_reader") as conn:
        present = {r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'published'")}
    missing = [t for t in bundle.bundle_tables(BUNDLE) if t not in present]
    assert not missing, f"published tables the dashboards read are missing: {missing}"
    return "warehouse"


@pytest.fixture(scope="module")
def superset(warehouse: str) -> Iterator[str]:
    """Superset with the bundle, roles, RLS and demo users on a free port; yields its base URL."""
    server.stop()
    shutil.rmtree(server.state_dir(), ignore_errors=True)  # fresh cluster: no stale init marker
    server.start(services.free_port())
    try:
        bundle.import_bundle(server.base_url())
        security.apply(server.base_url(), bundle.bundle_tables(BUNDLE), demo_users=True)
        yield server.base_url()
    finally:
        assert server.stop(), "Superset was not running at the end of the tests"


@pytest.fixture(scope="module")
def passwords(superset: str) -> dict[str, str]:
    return json.loads(security.users_file().read_text())


@pytest.fixture(scope="module")
def admin(superset: str, passwords: dict[str, str]) -> SupersetClient:
    return SupersetClient(superset, "admin", passwords["admin"])


def _client(superset: str, passwords: dict[str, str], user: str) -> SupersetClient:
    return SupersetClient(superset, user, passwords[user])


def _inventory(admin: SupersetClient) -> dict[str, dict[str, int]]:
    """uuid -> id of everything the bundle defines, per kind."""
    kinds = {"dashboard": "dashboard", "chart": "chart", "dataset": "dataset", "database": "database"}
    return {k: {r["uuid"]: r["id"] for r in admin.list_all(res, ["id", "uuid"])} for k, res in kinds.items()}


def _bundle_uuids() -> dict[str, set[str]]:
    def uuids(folder: str) -> set[str]:
        return {yaml.safe_load(p.read_text())["uuid"] for p in (BUNDLE / folder).rglob("*.yaml")}

    return {"dashboard": uuids("dashboards"), "chart": uuids("charts"), "dataset": uuids("datasets"),
            "database": uuids("databases")}


# ---------------------------------------------------------------- configuration


def _loaded_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Load superset_config.py the way Superset does (its venv), print the security settings."""
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('superset_config', {str(server.CONFIG_FILE)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(json.dumps({'secret': m.SECRET_KEY, 'csrf': m.WTF_CSRF_ENABLED, 'talisman': m.TALISMAN_ENABLED,\n"
        "  'csp': m.TALISMAN_CONFIG['content_security_policy'],\n"
        "  'lifetime': m.PERMANENT_SESSION_LIFETIME.total_seconds(),\n"
        "  'httponly': m.SESSION_COOKIE_HTTPONLY, 'examples': m.SUPERSET_LOAD_EXAMPLES,\n"
        "  'uri': m.SQLALCHEMY_DATABASE_URI, 'public': m.PUBLIC_ROLE_LIKE,\n"
        "  'rate_limited': m.AUTH_RATE_LIMITED, 'rate_limit': m.AUTH_RATE_LIMIT,\n"
        "  'disallowed': sorted(m.DISALLOWED_SQL_FUNCTIONS['postgresql'])}))\n"
    )
    return subprocess.run([str(venv_bin("superset", "python")), "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)


def test_config_has_production_settings(pg_server: str) -> None:
    env = server.superset_env()
    proc = _loaded_config(env)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["secret"] == env["SUPERSET_SECRET_KEY"] and len(cfg["secret"]) >= 32
    assert cfg["secret"] != "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET"
    assert cfg["csrf"] is True and cfg["talisman"] is True and cfg["httponly"] is True
    assert cfg["csp"]["default-src"] == ["'self'"] and "'unsafe-eval'" not in cfg["csp"]["script-src"]
    assert 0 < cfg["lifetime"] <= 12 * 3600
    assert cfg["examples"] is False and cfg["public"] is None
    assert cfg["uri"].startswith("postgresql+psycopg2://spw_superset:") and cfg["uri"].endswith("/superset")
    # Login throttling at Flask-AppBuilder's own default (its security manager's setdefault).
    fab_manager = venv_bin("superset", "python").parents[1].glob("lib/python*/site-packages/flask_appbuilder/"
                                                                "security/manager.py")
    fab_default = re.search(r'setdefault\("AUTH_RATE_LIMIT", "([^"]+)"\)', next(fab_manager).read_text()).group(1)
    assert cfg["rate_limited"] is True and cfg["rate_limit"] == fab_default == "10 per 20 second"
    # Superset's default blocked functions, plus every one that runs SQL given as a string.
    superset_default = subprocess.run(
        [str(venv_bin("superset", "python")), "-c", "import json, superset.config as c; "
         "print(json.dumps(sorted(c.DISALLOWED_SQL_FUNCTIONS['postgresql'])))"],
        env=env, capture_output=True, text=True, timeout=120)
    assert superset_default.returncode == 0, superset_default.stderr[-2000:]
    assert set(json.loads(superset_default.stdout.strip().splitlines()[-1])) <= set(cfg["disallowed"])
    assert set(SQL_FROM_STRING) <= set(cfg["disallowed"])


@pytest.mark.parametrize("value", ["", "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET", "short"])
def test_config_refuses_default_or_missing_secret_key(pg_server: str, value: str) -> None:
    env = server.superset_env()
    env["SUPERSET_SECRET_KEY"] = value
    proc = _loaded_config(env)
    assert proc.returncode != 0 and "SUPERSET_SECRET_KEY" in proc.stderr


def _with_config(body: str) -> Any:
    """Run `body` in Superset's venv with superset_config loaded as `m`; return what it prints as JSON."""
    code = (
        "import importlib.util, json\n"
        f"spec = importlib.util.spec_from_file_location('superset_config', {str(server.CONFIG_FILE)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n" + body
    )
    proc = subprocess.run([str(venv_bin("superset", "python")), "-c", code], env=server.superset_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_warehouse_connections_are_reused_and_reset(pg_server: str) -> None:
    """superset_config.DB_CONNECTION_MUTATOR: a new engine re-uses a parked connection, with its state gone.

    Superset makes a new engine per chart query; the second engine here gets the first one's backend
    (no new connection), but no setting or advisory lock of the first query survives on it.
    """
    url = db.url("warehouse", "spw_bi_reader").replace("postgresql://", "postgresql+psycopg2://", 1)
    out = _with_config(
        "from sqlalchemy import create_engine, text\n"
        "from sqlalchemy.engine.url import make_url\n"
        "from sqlalchemy.pool import NullPool\n"
        "def engine():\n"
        f"    uri, params = m.DB_CONNECTION_MUTATOR(make_url({url!r}), {{'poolclass': NullPool}}, None, None, None)\n"
        "    return create_engine(uri, **params)\n"
        "with engine().connect() as c:\n"
        "    first = c.execute(text('select pg_backend_pid()')).scalar()\n"
        "    c.execute(text(\"set work_mem = '7MB'\"))\n"
        "    c.execute(text('select pg_advisory_lock(4242)'))\n"
        "with engine().connect() as c:\n"
        "    second = c.execute(text('select pg_backend_pid()')).scalar()\n"
        "    work_mem = c.execute(text('show work_mem')).scalar()\n"
        "    locks = c.execute(text(\"select count(*) from pg_locks where locktype = 'advisory' \"\n"
        "                           \"and pid = pg_backend_pid()\")).scalar()\n"
        "print(json.dumps({'same': first == second, 'work_mem': work_mem, 'locks': locks}))\n"
    )
    assert out["same"], "the second engine opened a new connection instead of re-using the parked one"
    assert out["work_mem"] != "7MB" and out["locks"] == 0, out


def test_function_guard_keeps_its_verdict_per_sql_text(pg_server: str) -> None:
    """SQL_QUERY_MUTATOR parses a text once: a repeat is answered from the kept verdict, and a refused
    or unparseable text is refused again."""
    out = _with_config(
        "from superset_hooks import sql_guard\n"
        "def verdict(sql):\n"
        "    try:\n"
        "        return m.SQL_QUERY_MUTATOR(sql) == sql\n"
        "    except Exception as exc:\n"
        "        return type(exc).__name__\n"
        "texts = [\"select query_to_xml('select 1', true, true, '')\", 'select region_name from published.x',\n"
        "         'select from (']\n"
        "first = [verdict(t) for t in texts]\n"
        "parsed = sql_guard.disallowed_in.cache_info().misses\n"
        "again = [verdict(t) for t in texts]\n"
        "print(json.dumps({'first': first, 'again': again,\n"
        "                  'parsed_again': sql_guard.disallowed_in.cache_info().misses - parsed}))\n")
    refused = "SupersetDisallowedSQLFunctionException"
    assert out["first"] == [refused, True, refused]
    assert out["again"] == out["first"]
    assert out["parsed_again"] == 0


def test_each_user_queries_the_warehouse_as_the_login_of_their_region(pg_server: str) -> None:
    """superset_config.DB_CONNECTION_MUTATOR, as Superset calls it: the engine of a regional user logs in
    as that region's login, a national user as the national one, anyone else as the no-rows login."""
    url = db.url("warehouse", "spw_bi_reader").replace("postgresql://", "postgresql+psycopg2://", 1)
    logins = _with_config(
        "from types import SimpleNamespace as NS\n"
        "from sqlalchemy import create_engine, text\n"
        "from sqlalchemy.engine.url import make_url\n"
        "from sqlalchemy.pool import NullPool\n"
        "ROLES = {'midlands': ['Gamma', 'nhs_region_y60'], 'london': ['Gamma', 'nhs_region_y56'],\n"
        "         'nhse': ['Gamma', 'nhs_england'], 'admin': ['Admin'], 'analyst': ['sql_lab', 'spw_analyst'],\n"
        "         'two': ['nhs_region_y60', 'nhs_region_y62'], 'norole': ['Gamma']}\n"
        "class SM:\n"
        "    def find_user(self, username):\n"
        "        return NS(username=username, roles=[NS(name=r) for r in ROLES[username]])\n"
        "out = {}\n"
        "for user in [*ROLES, None]:\n"
        f"    uri, params = m.DB_CONNECTION_MUTATOR(make_url({url!r}), {{'poolclass': NullPool}}, user, SM(), None)\n"
        "    with create_engine(uri, **params).connect() as c:\n"
        "        out[str(user)] = c.execute(text('select session_user')).scalar()\n"
        "print(json.dumps(out))\n"
    )
    assert logins == {
        "midlands": "spw_bi_region_y60", "london": "spw_bi_region_y56", "nhse": "spw_bi_reader",
        "admin": "spw_bi_reader", "analyst": "spw_bi_reader", "two": "spw_bi_no_rows", "norole": "spw_bi_no_rows",
        "None": "spw_bi_no_rows"}


def test_live_server_sends_security_headers(superset: str) -> None:
    resp = requests.get(f"{superset}/login/", timeout=30)
    assert resp.status_code == 200
    assert "default-src 'self'" in resp.headers.get("Content-Security-Policy", "")
    assert resp.headers.get("X-Frame-Options") == "SAMEORIGIN"
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"


def _form_login(superset: str, password: str, with_token: bool) -> int:
    """Log in through the HTML form; return the status of /api/v1/me/ afterwards (200 = logged in)."""
    browser_like = requests.Session()
    page = browser_like.get(f"{superset}/login/", timeout=30).text
    data = {"username": "admin", "password": password}
    if with_token:
        data["csrf_token"] = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    browser_like.post(f"{superset}/login/", data=data, timeout=30)
    return browser_like.get(f"{superset}/api/v1/me/", timeout=30).status_code


def test_login_attempts_are_rate_limited(superset: str) -> None:
    """Flask-AppBuilder's default, 10 login attempts per 20 s per client address (per gunicorn worker).

    Sent from another loopback address, so the other tests' logins from 127.0.0.1 are not held up.
    """
    port = int(superset.rsplit(":", 1)[1])

    def send(method: str, body: str = "", cookie: str = "") -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=("127.0.0.2", 0))
        conn.request(method, "/login/", body=body or None, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        resp = conn.getresponse()
        resp.text = resp.read().decode()  # type: ignore[attr-defined]
        conn.close()
        return resp

    page = send("GET")
    cookie = page.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)  # type: ignore[attr-defined]
    statuses = [send("POST", f"csrf_token={token}&username=admin&password=wrong", cookie).status
                for _ in range(30)]
    assert 429 in statuses, statuses
    assert statuses.index(429) >= 10, statuses  # not before the tenth attempt


def test_form_login_needs_the_csrf_token(superset: str, passwords: dict[str, str]) -> None:
    assert _form_login(superset, passwords["admin"], with_token=False) == 401
    assert _form_login(superset, passwords["admin"], with_token=True) == 200


# ---------------------------------------------------------------- bundle


def test_bundle_is_well_formed() -> None:
    """Reads only published tables, masks the password, and every chart node carries uuid + chartId."""
    db_yaml = yaml.safe_load((BUNDLE / "databases" / "warehouse.yaml").read_text())
    assert "spw_bi_reader:XXXXXXXXXX@" in db_yaml["sqlalchemy_uri"]
    datasets = [yaml.safe_load(p.read_text()) for p in (BUNDLE / "datasets").rglob("*.yaml")]
    assert datasets and all(d["schema"] == "published" and d["sql"] is None for d in datasets)
    assert all(d["database_uuid"] == db_yaml["uuid"] for d in datasets)
    dataset_uuids = {d["uuid"] for d in datasets}
    charts = {c.uuid: c for c in queries.bundle_charts(BUNDLE)}
    assert all(c.dataset_uuid in dataset_uuids for c in charts.values())
    placed = []
    for dash in queries.bundle_dashboards(BUNDLE):
        nodes = [n for n in dash["position"].values() if isinstance(n, dict) and n.get("type") == "CHART"]
        assert nodes and all(isinstance(n["meta"].get("chartId"), int) and n["meta"]["uuid"] in charts
                             for n in nodes), dash["dashboard_title"]
        placed += [n["meta"]["uuid"] for n in nodes]
        for f in dash["metadata"]["native_filter_configuration"]:
            assert all(t["datasetUuid"] in dataset_uuids for t in f["targets"]), f["name"]
    assert set(placed) == set(charts), "every chart sits on a dashboard"


def test_bundle_imports_and_reimports_idempotently(superset: str, admin: SupersetClient) -> None:
    expected = _bundle_uuids()
    first = _inventory(admin)
    for kind, uuids in expected.items():
        assert set(first[kind]) == uuids, f"{kind}: Superset holds {set(first[kind])}, bundle has {uuids}"
    bundle.import_bundle(superset)
    second = _inventory(admin)
    assert second == first  # same objects (UUID -> id), nothing duplicated
    dashboards = admin.list_all("dashboard", ["id", "uuid", "dashboard_title", "published"])
    assert all(d["published"] for d in dashboards)
    # Dashboards hold exactly the charts their position names, with nothing left over.
    for dash in queries.bundle_dashboards(BUNDLE):
        ids = {c["id"] for c in admin.get(f"/api/v1/dashboard/{first['dashboard'][dash['uuid']]}/charts")["result"]}
        want = {first["chart"][n["meta"]["uuid"]] for n in dash["position"].values()
                if isinstance(n, dict) and n.get("type") == "CHART"}
        assert ids == want, dash["dashboard_title"]


def test_warehouse_connection_is_the_bi_reader(admin: SupersetClient) -> None:
    (database,) = admin.list_all("database", ["id", "uuid", "database_name"])
    detail = admin.get(f"/api/v1/database/{database['id']}/connection")["result"]
    assert detail["sqlalchemy_uri"].startswith("postgresql+psycopg2://spw_bi_reader:")
    assert "XXXXXXXXXX" in detail["sqlalchemy_uri"]  # Superset masks it; the real one works (next tests)
    committed = (BUNDLE / "databases" / "warehouse.yaml").read_text()
    assert db.url("warehouse", "spw_bi_reader").split("@")[0].split(":")[-1] not in committed


def test_every_chart_query_succeeds(superset: str, admin: SupersetClient, passwords: dict[str, str]) -> None:
    charts = queries.bundle_charts(BUNDLE)
    ds = dataset_ids(admin)
    nhse = _client(superset, passwords, "nhse")
    with_rows = [c.name for c in charts if data_rows(run_chart(nhse, c, ds))]
    for c in charts:
        run_chart(admin, c, ds)
    # The synthetic warehouse has data for the national role in (nearly) every chart.
    assert len(with_rows) >= 0.8 * len(charts), f"charts with data: {with_rows}"


def _regions_with_data(admin: SupersetClient, ds: dict[str, int]) -> list[str]:
    pcn_month = next(p for p in (BUNDLE / "datasets").rglob("mart_rollout_pcn_month.yaml"))
    ds_id = ds[yaml.safe_load(pcn_month.read_text())["uuid"]]
    regions = sorted({r[0] for r in raw_rows(admin, ds_id, ["region_code"])})
    return [r for r in regions if r.startswith("Y")]


def test_regional_users_see_disjoint_rows_apart_from_england(superset: str, admin: SupersetClient,
                                                            passwords: dict[str, str]) -> None:
    ds = dataset_ids(admin)
    regions = _regions_with_data(admin, ds)
    assert len(regions) >= 2, f"the test warehouse needs two regions with data, has {regions}"
    a, b = regions[:2]
    users = {code: _client(superset, passwords, f"region_{code.lower()}") for code in (a, b)}
    checked = 0
    for path in sorted((BUNDLE / "datasets").rglob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        cols = [c["column_name"] for c in spec["columns"] if not c["expression"]]
        seen = {code: raw_rows(api, ds[spec["uuid"]], cols) for code, api in users.items()}
        everything = raw_rows(admin, ds[spec["uuid"]], cols)
        region = cols.index("region_code")
        for code, rows in seen.items():
            assert {r[region] for r in rows} <= {code, ENGLAND}, f"{spec['table_name']}: {code} sees others"
            # Nothing of its own region or England is withheld from the regional user.
            assert sorted(rows, key=repr) == sorted(
                [r for r in everything if r[region] in (code, ENGLAND)], key=repr), spec["table_name"]
        shared = set(seen[a]) & set(seen[b])
        assert all(r[region] == ENGLAND for r in shared), f"{spec['table_name']}: shared non-England rows"
        checked += bool(seen[a]) and bool(seen[b])
    assert checked >= 3, "too few datasets had rows for both regions to show anything"
    # Through the charts as well: every chart runs for a regional user.
    for chart in queries.bundle_charts(BUNDLE):
        run_chart(users[a], chart, ds)


def test_cached_results_never_cross_regions(superset: str, admin: SupersetClient,
                                            passwords: dict[str, str]) -> None:
    """The shared result cache (files here, Redis in docker) is keyed by each user's RLS clauses.

    The same unforced query is answered from the cache on a repeat, yet each region only ever gets its
    own rows, whichever region asked first; a national user's cached rows never reach a region.
    """
    ds = dataset_ids(admin)
    a, b = _regions_with_data(admin, ds)[:2]
    users = {code: _client(superset, passwords, f"region_{code.lower()}") for code in (a, b)}
    users["all"] = _client(superset, passwords, "nhse")
    spec = yaml.safe_load(next((BUNDLE / "datasets").rglob("mart_rollout_pcn_month.yaml")).read_text())
    marker = f"pcn_code <> 'cache-test-{os.getpid()}'"  # a query nobody has cached before this test
    body = {"datasource": {"id": ds[spec["uuid"]], "type": "table"}, "force": False, "result_format": "json",
            "result_type": "full", "queries": [{
                "columns": ["region_code", "pcn_code", "month"], "metrics": None, "filters": [],
                "row_limit": 100000, "extras": {"where": marker, "having": ""}, "orderby": []}]}
    answers: dict[str, list[tuple[bool, set[str]]]] = {code: [] for code in users}
    for code in ("all", a, b, "all", b, a):  # the national user first, then both regions, twice each
        status, payload = chart_data(users[code], body)
        assert status == 200, payload
        result = payload["result"][0]
        answers[code].append((bool(result.get("is_cached")), {r["region_code"] for r in result["data"]}))
    for code in (a, b):
        (first_cached, first), (again_cached, again) = answers[code]
        assert first and first == again <= {code, ENGLAND}, f"{code} got {first} then {again}"
        assert not first_cached and again_cached, f"{code}: repeat not answered from the cache"
    assert {a, b} <= answers["all"][0][1] and answers["all"][1][0], "national rows or cache missing"


def test_user_without_data_role_gets_no_rows(superset: str, admin: SupersetClient,
                                             passwords: dict[str, str]) -> None:
    ds = dataset_ids(admin)
    norole = _client(superset, passwords, "norole")
    nhse = _client(superset, passwords, "nhse")
    for path in sorted((BUNDLE / "datasets").rglob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        assert raw_rows(norole, ds[spec["uuid"]], ["region_code"]) == [], spec["table_name"]
        assert raw_rows(nhse, ds[spec["uuid"]], ["region_code"]), f"{spec['table_name']}: empty for nhse"
    for chart in queries.bundle_charts(BUNDLE):
        assert data_rows(run_chart(norole, chart, ds)) == [], chart.name


def test_steering_group_roles_have_no_sql_lab(superset: str, passwords: dict[str, str]) -> None:
    region = _client(superset, passwords, "region_y60")
    analyst = _client(superset, passwords, "analyst")
    me = region.get("/api/v1/me/roles/")["result"]["roles"]
    assert "sql_lab" not in me and "Admin" not in me
    body = {"database_id": 1, "sql": "select 1", "runAsync": False, "schema": "published"}
    denied = region.session.post(f"{superset}/api/v1/sqllab/execute/", json=body, timeout=60)
    assert denied.status_code in (401, 403), denied.text[:300]
    assert "sql_lab" in analyst.get("/api/v1/me/roles/")["result"]["roles"]


# What lets Superset 6.1's frontend drill (to detail, or by): it asks for a dataset's drill_info on every
# dashboard open only when a role holds can_get_drill_info with can_explore or can_drill.
DRILL_PERMISSIONS = {("can_get_drill_info", "Dataset"), ("can_drill", "Dashboard"), ("can_samples", "Datasource"),
                     ("can_explore", "Superset")}


def _permissions(api: SupersetClient) -> set[tuple[str, str]]:
    roles = api.get("/api/v1/me/roles/")["result"]["roles"]
    return {(p, v) for perms in roles.values() for p, v in perms}


def test_readers_cannot_drill_or_edit_and_the_analyst_can(superset: str, admin: SupersetClient,
                                                           passwords: dict[str, str]) -> None:
    """Steering groups and NHS England hold spw_reader, not Gamma: no drilling, Explore or editing, so
    their dashboards send no drill_info lookups (the dashboards still render: the Chromium tests)."""
    ds = dataset_ids(admin)
    dashboard = next(d["id"] for d in admin.list_all("dashboard", ["id", "slug"])
                     if d["slug"] == "regional-steering-group")
    drill_info = f"{superset}/api/v1/dataset/{min(ds.values())}/drill_info/?q=(dashboard_id:{dashboard})"
    for user in ("region_y60", "nhse", "norole"):
        api = _client(superset, passwords, user)
        assert "Gamma" not in api.get("/api/v1/me/roles/")["result"]["roles"], user
        held = _permissions(api)
        assert not held & DRILL_PERMISSIONS, f"{user}: {held & DRILL_PERMISSIONS}"
        assert not {("can_write", "Chart"), ("can_write", "Dashboard"), ("can_read", "RowLevelSecurity")} & held
        assert api.session.get(drill_info, timeout=60).status_code == 403, user
    analyst = _client(superset, passwords, "analyst")
    assert {("can_get_drill_info", "Dataset"), ("can_explore", "Superset")} <= _permissions(analyst)
    assert analyst.session.get(drill_info, timeout=60).status_code == 200


def test_security_catalogue_holds_every_permission_of_the_metadata_db(superset: str, admin: SupersetClient) -> None:
    """The roles are applied from the REST list of permission-resource pairs: it must hold every pair
    Superset has (its pages once overlapped on a fresh metadata DB and lost 19, can_get on MenuApi among
    them), and every pair roles.yaml names must be one a fresh `superset init` creates."""
    with db.connect("superset", "spw_superset") as conn:
        pairs = {(p, v) for p, v in conn.execute(
            "select p.name, v.name from ab_permission_view pv join ab_permission p on p.id = pv.permission_id"
            " join ab_view_menu v on v.id = pv.view_menu_id")}
    catalogue = security._catalogue(admin, bundle.bundle_tables(BUNDLE))
    assert set(catalogue.perms) == pairs
    named = {tuple(p) for role in security.load("roles.yaml")["roles"] for p in role.get("permissions", [])}
    assert named and not named - pairs, sorted(named - pairs)


def test_dashboard_datasets_are_kept_per_role_set_and_the_access_check_still_runs(
        superset: str, admin: SupersetClient, passwords: dict[str, str]) -> None:
    """`/api/v1/dashboard/<slug>/datasets` is kept per dashboard version and role set
    (superset_hooks/dashboard_datasets.py): every login that may open a dashboard, whatever its region,
    gets exactly the answer Superset builds (the kept one the second time), which holds no rows; a login
    that may not open the dashboards is refused although others' answers are kept."""
    users = ("region_y60", "region_y56", "nhse", "analyst", "norole")
    apis = {u: _client(superset, passwords, u) for u in users}
    kept = 0
    for dash in queries.bundle_dashboards(BUNDLE):
        url = f"{superset}/api/v1/dashboard/{dash['slug']}/datasets"
        answers = []
        for user, api in apis.items():
            for _ in range(2):
                resp = api.session.get(url, timeout=60)
                assert resp.status_code == 200, f"{user} {dash['slug']}: HTTP {resp.status_code} {resp.text[:200]}"
                answers.append(resp.json()["result"])
        assert answers[0] and all(a == answers[0] for a in answers), f"{dash['slug']}: answers differ"
        text = json.dumps(answers[0])
        assert not re.search(r'"Y5[0-9]"|"Y6[0-9]"', text), f"{dash['slug']}: a region's code in the answer"
        kept += 1
    assert kept == 4
    cat = security._catalogue(admin, bundle.bundle_tables(BUNDLE))
    outsider = {"username": "spw_test_no_dashboards", "first_name": "No", "last_name": "dashboards",
                "email": "spw_test_no_dashboards@spw.invalid", "active": True, "password": "Only-for-this-test-42",
                "roles": [cat.roles["spw_reader"]]}  # may use the app, reads no dataset: opens no dashboard
    created = admin.post("/api/v1/security/users/", outsider)
    try:
        api = SupersetClient(superset, outsider["username"], outsider["password"])
        for dash in queries.bundle_dashboards(BUNDLE):
            resp = api.session.get(f"{superset}/api/v1/dashboard/{dash['slug']}/datasets", timeout=60)
            assert resp.status_code in (403, 404), f"{dash['slug']}: HTTP {resp.status_code} {resp.text[:200]}"
    finally:
        admin.delete(f"/api/v1/security/users/{created['id']}")


def test_dashboard_datasets_kept_answer_follows_an_edit(superset: str, admin: SupersetClient,
                                                       passwords: dict[str, str]) -> None:
    """A dataset edited after its dashboard's datasets answer was kept shows on the very next request
    (the key holds the datasets' latest change), and so does putting it back."""
    region = _client(superset, passwords, "region_y60")
    url = f"{superset}/api/v1/dashboard/data-quality/datasets"
    before = [region.session.get(url, timeout=60).json()["result"] for _ in range(2)][-1]
    dataset = before[0]["id"]
    assert before[0]["cache_timeout"] is None
    admin.put(f"/api/v1/dataset/{dataset}", {"cache_timeout": 4321})
    try:
        after = region.session.get(url, timeout=60).json()["result"]
        assert next(d for d in after if d["id"] == dataset)["cache_timeout"] == 4321
    finally:
        admin.put(f"/api/v1/dataset/{dataset}", {"cache_timeout": None})
    assert region.session.get(url, timeout=60).json()["result"] == before


# Ad-hoc columns a regional login may send to /api/v1/chart/data (Superset checks no function list
# there): each would read every region of the published tables through SQL given as a string.
AD_HOC_SQL = {
    "schema_to_xml": "schema_to_xml('published', true, false, '')::text",
    "query_to_xml": "query_to_xml('select region_code, pcn_code from published.mart_rollout_pcn_month', "
                    "true, false, '')::text",
    "database_to_xml_and_xmlschema": "database_to_xml_and_xmlschema(true, false, '')::text",
    "table_to_xml": "table_to_xml('published.mart_rollout_pcn_month', true, false, '')::text",
    "ts_stat": "ts_stat('select to_tsvector(region_code) from published.mart_rollout_pcn_month')::text",
    "qualified query_to_xml": "pg_catalog.query_to_xml('select * from published.mart_equity', true, false, '')::text",
}


def _ad_hoc_column_body(dataset_id: int, expression: str) -> dict:
    column = {"expressionType": "SQL", "sqlExpression": expression, "label": "probe"}
    return {"datasource": {"id": dataset_id, "type": "table"}, "force": True, "result_format": "json",
            "result_type": "full", "queries": [{
                "columns": [column, "region_code"], "metrics": None, "filters": [], "row_limit": 10,
                "extras": {"where": "", "having": ""}, "orderby": []}]}


def test_regional_ad_hoc_sql_functions_read_no_other_region(superset: str, admin: SupersetClient,
                                                            passwords: dict[str, str]) -> None:
    """With each regional login, ad-hoc columns calling SQL-from-string functions are refused and
    bring back no other region's row (the synthetic ICB spans two regions; the others see theirs)."""
    ds = dataset_ids(admin)
    regions = _regions_with_data(admin, ds)
    spec = yaml.safe_load(next((BUNDLE / "datasets").rglob("mart_rollout_pcn_month.yaml")).read_text())
    for code in bi_logins.REGION_CODES:
        user = _client(superset, passwords, f"region_{code.lower()}")
        others = [r for r in regions if r != code]
        for name, expression in AD_HOC_SQL.items():
            resp = user.session.post(f"{superset}/api/v1/chart/data", timeout=user.timeout,
                                     json=_ad_hoc_column_body(ds[spec["uuid"]], expression))
            leaked = [r for r in others if r in resp.text]
            assert not leaked, f"{user.username}: {name} returned rows of {leaked}: {resp.text[:300]}"
            assert resp.status_code != 200, f"{user.username}: {name} was run: {resp.text[:300]}"
            assert "disallowed function" in resp.text, f"{user.username}: {name}: {resp.text[:300]}"


def test_regional_queries_run_as_the_region_login(superset: str, admin: SupersetClient,
                                                  passwords: dict[str, str]) -> None:
    """A live chart query of a regional user runs on a Postgres session of that region's login."""
    ds = dataset_ids(admin)
    spec = yaml.safe_load(next((BUNDLE / "datasets").rglob("mart_rollout_pcn_month.yaml")).read_text())
    expected = {"region_y60": "spw_bi_region_y60", "region_y62": "spw_bi_region_y62", "nhse": "spw_bi_reader",
                "norole": "spw_bi_no_rows"}
    for username, db_login in expected.items():
        user = _client(superset, passwords, username)
        body = {"datasource": {"id": ds[spec["uuid"]], "type": "table"}, "force": True,
                "result_format": "json", "result_type": "full", "queries": [{
                    "columns": [{"expressionType": "SQL", "sqlExpression": "pg_backend_pid()", "label": "pid"}],
                    "metrics": None, "filters": [], "row_limit": 1, "extras": {"where": "", "having": ""},
                    "orderby": []}]}
        status, payload = chart_data(user, body)
        assert status == 200, payload
        rows = rows_of(payload)
        if username == "norole":
            assert rows == [], rows  # default deny: Superset's base rule and the database agree
            continue
        with db.connect("warehouse") as conn:  # the session stays open, parked for the next query
            seen = conn.execute("select usename from pg_stat_activity where pid = %s", (rows[0]["pid"],)).fetchone()
        assert seen == (db_login,), (username, seen)


def test_suppressed_cells_are_shown_as_suppressed(admin: SupersetClient) -> None:
    ds = dataset_ids(admin)
    spec = yaml.safe_load(next((BUNDLE / "datasets").rglob("mart_demand_reduction_by_area.yaml")).read_text())
    body = {"datasource": {"id": ds[spec["uuid"]], "type": "table"}, "force": True, "result_format": "json",
            "result_type": "full", "queries": [{
                "columns": ["n_patients", "n_patients_shown"], "metrics": None, "filters": [],
                "row_limit": 100000, "extras": {"where": "", "having": ""}, "orderby": []}]}
    status, payload = chart_data(admin, body)
    assert status == 200, payload
    rows = payload["result"][0]["data"]
    assert rows
    for r in rows:
        if r["n_patients"] is None:
            assert r["n_patients_shown"] == "suppressed"
        else:
            assert float(r["n_patients_shown"].replace(",", "")) == float(r["n_patients"])


def test_demo_users_are_made_in_demo_mode_only(superset: str, admin: SupersetClient) -> None:
    """`spw dashboards-import` (bundle.import_all()) makes no steering-group login; `spw demo` does."""
    def usernames() -> dict[str, int]:
        return {u["username"]: u["id"] for u in admin.list_all("security/users", ["id", "username"])}

    demo = {u["username"] for u in security.load("roles.yaml")["demo_users"]}
    assert demo <= set(usernames())
    admin.delete(f"/api/v1/security/users/{usernames()['region_y63']}")
    try:
        bundle.import_all()  # what `spw dashboards-import` runs, on the running Superset
        assert "region_y63" not in usernames()
    finally:
        bundle.import_all(demo_users=True)  # what `spw demo` runs
    assert demo <= set(usernames())


def _in_scope_of(column: str) -> set[str]:
    """UUIDs of the charts that a dashboard's native filter on `column` narrows (not excluded)."""
    uuids = set()
    for dash in queries.bundle_dashboards(BUNDLE):
        nodes = [n["meta"] for n in dash["position"].values() if isinstance(n, dict) and n.get("type") == "CHART"]
        for f in dash["metadata"]["native_filter_configuration"]:
            if f["targets"][0]["column"]["name"] == column:
                uuids |= {m["uuid"] for m in nodes if m["chartId"] not in f["scope"]["excluded"]}
    return uuids


def _area_rows(api: SupersetClient, chart: queries.BundleChart, dataset_id: int,
               filters: list[dict]) -> set[tuple]:
    """Every row of a table chart with native-filter clauses, led by (geography_level, geography_code)."""
    query = queries.query_for(chart.params, filters, row_limit=100000)
    lead = ["geography_level", "geography_code"]
    query["columns"] = lead + [c for c in query["columns"] if c not in lead]
    status, payload = chart_data(api, {"datasource": {"id": dataset_id, "type": "table"}, "force": True,
                                       "queries": [query], "result_format": "json", "result_type": "full"})
    assert status == 200, f"{chart.name}: {payload}"
    return {tuple(r[c] for c in query["columns"]) for r in payload["result"][0]["data"]}


def test_icb_filter_narrows_tables_published_by_geography_level(superset: str, admin: SupersetClient,
                                                                passwords: dict[str, str]) -> None:
    """The ICB filter, chosen by name, keeps the ICB's own rows and those of its sub-ICBs and PCNs, beyond
    PCN-month charts."""
    ds = dataset_ids(admin)
    pcn_month = yaml.safe_load(next((BUNDLE / "datasets").rglob("mart_rollout_pcn_month.yaml")).read_text())
    lookup = raw_rows(admin, ds[pcn_month["uuid"]], ["icb_code", "sub_icb_code", "pcn_code", "icb_name"])
    icb = sorted({r[0] for r in lookup if r[0]})[0]
    name = next(r[3] for r in lookup if r[0] == icb)
    assert name and name != icb, "the filter bar offers ICB names, not codes"
    inside = {("icb", icb)} | {("sub_icb", r[1]) for r in lookup if r[0] == icb} | {
        ("pcn", r[2]) for r in lookup if r[0] == icb}
    nhse = _client(superset, passwords, "nhse")
    in_scope = _in_scope_of("icb_name")
    assert not any(_in_scope_of(c) for c in ("region_code", "icb_code", "sub_icb_code", "pcn_code")), \
        "a filter bar offering codes"
    assert _in_scope_of("sub_icb_name") and _in_scope_of("pcn_name"), "sub-ICB and PCN filters by name"
    by_level = [c for c in queries.bundle_charts(BUNDLE)
                if c.uuid in in_scope and c.dataset_uuid != pcn_month["uuid"] and c.viz == "table"]
    assert "Demand reduction by ICB, sub-ICB and PCN" in {c.name for c in by_level}
    narrowed = 0
    for chart in by_level:
        everything = _area_rows(nhse, chart, ds[chart.dataset_uuid], [])
        only_icb = _area_rows(nhse, chart, ds[chart.dataset_uuid], [{"col": "icb_name", "op": "IN", "val": [name]}])
        assert {r[:2] for r in only_icb} <= inside, f"{chart.name}: rows outside ICB {icb}"
        assert only_icb == {r for r in everything if r[:2] in inside}, f"{chart.name}: rows of {icb} withheld"
        narrowed += bool(only_icb) and len(only_icb) < len(everything)
    assert narrowed >= 3, "too few tables had rows both inside and outside the ICB to show anything"


# ---------------------------------------------------------------- browser


def _open_dashboards(superset: str, user: str, password: str, slugs: set[str] | None = None,
                     suffix: str = "") -> tuple[list, dict[str, list], dict[str, str]]:
    """Log in as `user`, open each dashboard (all, or `slugs`): render check, screenshot, axe-core, page text."""
    if not Path("/usr/bin/chromedriver").exists():
        pytest.fail("chromium-driver is missing: run scripts/ensure-chromium.sh")
    if not AXE_JS.exists():
        pytest.fail("axe-core is missing: run scripts/ensure-axe.sh")
    from selenium.webdriver.common.by import By

    driver = browser()
    results, findings, texts = [], {}, {}
    try:
        login(driver, superset, user, password)
        for dash in queries.bundle_dashboards(BUNDLE):
            if slugs is not None and dash["slug"] not in slugs:
                continue
            tabs = queries.dashboard_tabs(dash)
            found, text = [], []

            def on_tab(_i: int, _title: str, found: list = found, text: list = text) -> None:
                found.extend(run_axe(driver))  # every tab: inactive tabs are not in the page's tree
                text.append(driver.find_element(By.TAG_NAME, "body").text)

            results.append(check_dashboard(driver, superset, dash["slug"], sum(len(c) for _, c in tabs),
                                           OUTPUT / f"{dash['slug']}{suffix}.png",
                                           tabs=[(t, len(c)) for t, c in tabs] if tabs[0][0] else None,
                                           on_tab=on_tab))
            findings[dash["slug"]] = found
            texts[dash["slug"]] = "\n".join(text)
    finally:
        driver.quit()
    report = {slug: [vars(f) for f in fs] for slug, fs in findings.items()}
    (OUTPUT / f"axe{suffix or '-' + user}.json").write_text(json.dumps(report, indent=1))
    return results, findings, texts


def _assert_rendered(results: list) -> None:
    for r in results:
        assert r.errors == [], f"{r.slug}: {r.errors}"
        assert r.charts_rendered == r.charts_expected, f"{r.slug}: {r.charts_rendered}/{r.charts_expected}"
        assert r.screenshot.stat().st_size > 10_000


def _assert_accessible(findings: dict[str, list]) -> None:
    """No serious or critical WCAG 2.2 A/AA violation in what the project configures (charts, tables,
    markdown, titles); Superset's own chrome is reported in the JSON beside the screenshots."""
    ours = [f"{slug}: {f.rule} ({f.impact}) {f.help} at {f.targets[:3]}" for slug, fs in findings.items()
            for f in fs if f.in_project_scope and f.impact in ("serious", "critical")]
    assert not ours, "\n".join(ours)


def test_dashboards_render_for_a_regional_user_in_chromium(superset: str, admin: SupersetClient,
                                                           passwords: dict[str, str]) -> None:
    """Every dashboard renders for a regional login, passes axe-core, and leads with the primary estimate."""
    ds = dataset_ids(admin)
    user = f"region_{_regions_with_data(admin, ds)[0].lower()}"
    results, findings, texts = _open_dashboards(superset, user, passwords[user])
    _assert_rendered(results)
    _assert_accessible(findings)
    for slug in ("regional-steering-group", "icb-analyst"):
        text = texts[slug]
        assert "People referred had" in text or "too few people to estimate" in text, f"{slug}: no headline"
        assert "ae_attendances" not in text and "gp_appointments" not in text, f"{slug}: measure codes shown"


def test_regional_dashboard_renders_for_nhs_england_in_chromium(superset: str, passwords: dict[str, str]) -> None:
    """NHS England sees the regional steering-group dashboard with England's estimate first."""
    results, findings, texts = _open_dashboards(superset, "nhse", passwords["nhse"], {"regional-steering-group"},
                                                suffix="-nhs-england")
    _assert_rendered(results)
    _assert_accessible(findings)
    assert "England" in texts["regional-steering-group"]
