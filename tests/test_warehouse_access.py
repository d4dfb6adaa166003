"""Who may read what in a built warehouse (outputs.md, schema table; src/spw/sql/roles.sql).

The BI logins (Superset's) must see the published layer and nothing else, each region's login only
its region's rows and England's, every published table must be a real table carrying `region_code`
for row-level security, and named analysts read marts, published and audit. Checked on the warehouse
the real pipeline built (`built_warehouse`), so the grants and policies are the ones that survive dbt
replacing its tables.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from spw import bi_logins, db

pytestmark = pytest.mark.slow

# Every mart has a published twin of the same name (outputs.md).
MARTS = (
    "mart_demand_reduction", "mart_cohort_attrition", "mart_rollout_pcn_month", "mart_rollout_progress",
    "mart_wellbeing_outcomes", "mart_referral_pathway", "mart_equity", "mart_data_quality",
    "mart_rollout_monthly_series", "mart_rollout_spc", "mart_cost_consequences", "mart_population_scale",
)
CLOSED_TO_BI = ("raw", "staging", "intermediate", "marts", "audit", "reference")
ANALYST_READS = ("marts", "published", "audit")
ANALYST_CLOSED = ("raw",)
ENGLAND = "ENG"


def relations(schema: str) -> dict[str, str]:
    """name -> relkind ('r' table, 'v' view, 'm' materialised view, 'p' partitioned) of a schema."""
    with db.connect("warehouse") as conn:
        rows = conn.execute(
            "select c.relname, c.relkind from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p') order by c.relname",
            (schema,),
        ).fetchall()
    return {name: kind for name, kind in rows}


def columns(schema: str, table: str) -> list[str]:
    with db.connect("warehouse") as conn:
        rows = conn.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
            (schema, table),
        ).fetchall()
    return [r[0] for r in rows]


def select_one(conn: psycopg.Connection, schema: str, name: str) -> None:
    conn.execute(sql.SQL("select 1 from {}.{} limit 1").format(sql.Identifier(schema), sql.Identifier(name)))


@pytest.fixture(scope="module")
def bi_reader(built_warehouse) -> Iterator[psycopg.Connection]:
    with db.connect("warehouse", "spw_bi_reader", autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def analyst(built_warehouse) -> Iterator[psycopg.Connection]:
    with db.connect("warehouse", "spw_analyst", autocommit=True) as conn:
        yield conn


def test_every_mart_and_its_published_twin_are_tables(built_warehouse) -> None:
    marts, published = relations("marts"), relations("published")
    for name in MARTS:
        assert marts.get(name) == "r", f"marts.{name} missing or not a table"
        # Superset reads tables only: a dbt rebuild must not break a dashboard mid-run.
        assert published.get(name) == "r", f"published.{name} missing or not a table"
    assert set(published.values()) == {"r"}, f"views in published: {published}"


# The output interface (outputs.md) names every column of the demand-reduction mart; its published
# twin has the same columns plus is_suppressed. Dashboards read mart_demand_reduction_by_area instead.
DEMAND_COLUMNS = [
    "design", "geography_level", "geography_code", "geography_name", "region_code", "cohort_fy", "population",
    "subgroup", "window_months", "measure", "n_patients", "pre_total", "post_total", "pre_mean", "post_mean",
    "pct_change", "pct_change_ci_low", "pct_change_ci_high", "n_matched", "n_unmatched", "n_clusters",
    "control_pre_mean", "control_post_mean", "did_mean", "did_ci_low", "did_ci_high", "did_pct", "did_pct_ci_low",
    "did_pct_ci_high", "cost_gbp", "cost_change_gbp",
]


def test_demand_reduction_has_exactly_the_interface_columns(built_warehouse) -> None:
    assert sorted(columns("marts", "mart_demand_reduction")) == sorted(DEMAND_COLUMNS)
    assert sorted(columns("published", "mart_demand_reduction")) == sorted([*DEMAND_COLUMNS, "is_suppressed"])


def test_bi_reader_reads_every_published_table_with_region_code(bi_reader) -> None:
    published = relations("published")
    assert published, "no published tables"
    for name in published:
        assert "region_code" in columns("published", name), f"published.{name} has no region_code"
        stmt = sql.SQL("select count(*), count(*) filter (where region_code is null) from published.{}").format(
            sql.Identifier(name))
        n_rows, n_null = bi_reader.execute(stmt).fetchone()
        assert n_null == 0, f"published.{name}: {n_null} rows without region_code"
        if name in MARTS and name != "mart_data_quality":
            assert n_rows > 0, f"published.{name} is empty after the synthetic build"


def test_england_rows_carry_region_code_eng(bi_reader) -> None:
    for name in relations("published"):
        if "geography_level" not in columns("published", name):
            continue
        stmt = sql.SQL(
            "select count(*) from published.{} where (geography_level = 'england') <> (region_code = 'ENG')"
        ).format(sql.Identifier(name))
        assert bi_reader.execute(stmt).fetchone()[0] == 0, f"published.{name}: region_code 'ENG' iff England"


@pytest.mark.parametrize("schema", CLOSED_TO_BI)
def test_bi_reader_reads_nothing_outside_published(bi_reader, schema: str) -> None:
    names = relations(schema)
    assert names, f"schema {schema} holds no relation, so the check would prove nothing"
    for name in names:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            select_one(bi_reader, schema, name)


def test_bi_reader_cannot_change_published(bi_reader) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bi_reader.execute("create table published.bi_reader_probe (a integer)")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bi_reader.execute("delete from published.mart_rollout_pcn_month")


@pytest.mark.parametrize("schema", ANALYST_READS)
def test_analyst_reads_marts_published_and_audit(analyst, schema: str) -> None:
    names = relations(schema)
    assert names, f"schema {schema} holds no relation"
    for name in names:
        select_one(analyst, schema, name)


@pytest.mark.parametrize("schema", ANALYST_CLOSED)
def test_analyst_cannot_read_raw(analyst, schema: str) -> None:
    names = relations(schema)
    assert names, f"schema {schema} holds no relation"
    for name in names:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            select_one(analyst, schema, name)


# ---------------------------------------------------------------- regions enforced by Postgres
# Superset runs each user's queries as the login of their region (superset_hooks.warehouse_logins);
# row-level security on every published table (dbt macro region_row_security) gives that login its
# region's rows and England's, whatever SQL it sends. These checks hold whatever Superset does.

# Functions that run SQL given as a string, or read a whole table, schema, database or cursor
# (src/spw/sql/roles.sql revokes them), each called the way an ad-hoc column would.
SQL_FROM_STRING_CALLS = {
    "query_to_xml": "query_to_xml('select * from published.mart_rollout_pcn_month', true, false, '')",
    "query_to_xmlschema": "query_to_xmlschema('select 1', true, false, '')",
    "query_to_xml_and_xmlschema": "query_to_xml_and_xmlschema('select * from published.mart_equity', true, false, '')",
    "schema_to_xml": "schema_to_xml('published', true, false, '')",
    "schema_to_xmlschema": "schema_to_xmlschema('published', true, false, '')",
    "schema_to_xml_and_xmlschema": "schema_to_xml_and_xmlschema('published', true, false, '')",
    "database_to_xml": "database_to_xml(true, false, '')",
    "database_to_xmlschema": "database_to_xmlschema(true, false, '')",
    "database_to_xml_and_xmlschema": "database_to_xml_and_xmlschema(true, false, '')",
    "table_to_xml": "table_to_xml('published.mart_rollout_pcn_month', true, false, '')",
    "table_to_xmlschema": "table_to_xmlschema('published.mart_rollout_pcn_month', true, false, '')",
    "table_to_xml_and_xmlschema": "table_to_xml_and_xmlschema('published.mart_equity', true, false, '')",
    "cursor_to_xml": "cursor_to_xml('c', 1, false, true, '')",
    "cursor_to_xmlschema": "cursor_to_xmlschema('c', false, true, '')",
    "ts_stat": "ts_stat('select to_tsvector(region_code) from published.mart_rollout_pcn_month')",
    "ts_rewrite": "ts_rewrite('a'::tsquery, 'select ''a''::tsquery, ''b''::tsquery')",
    "lo_get": "lo_get(1)",
}


def region_codes_in_data() -> list[str]:
    with db.connect("warehouse") as conn:
        return [r[0] for r in conn.execute(
            "select distinct region_code from published.mart_rollout_pcn_month where region_code like 'Y%' "
            "order by 1")]


def rows_by_region(conn: psycopg.Connection, table: str) -> dict[str, int]:
    stmt = sql.SQL("select region_code, count(*) from published.{} group by 1").format(sql.Identifier(table))
    return dict(conn.execute(stmt).fetchall())


@pytest.fixture(scope="module")
def everything(built_warehouse) -> dict[str, dict[str, int]]:
    """Rows per region of every published table, as the bootstrap admin sees them (no RLS)."""
    with db.connect("warehouse", autocommit=True) as conn:
        return {name: rows_by_region(conn, name) for name in relations("published")}


@pytest.mark.parametrize("code", bi_logins.REGION_CODES)
def test_each_region_login_reads_its_region_and_england_only(everything, code: str) -> None:
    login = bi_logins.region_login(code)
    with db.connect("warehouse", login, autocommit=True) as conn:
        for name, counts in everything.items():
            expected = {r: n for r, n in counts.items() if r in (code, ENGLAND)}
            assert rows_by_region(conn, name) == expected, f"{login} on published.{name}"
            # and a plain select * gives the same rows, nothing of another region
            stmt = sql.SQL("select * from published.{}").format(sql.Identifier(name))
            cur = conn.execute(stmt)
            at = [d.name for d in cur.description].index("region_code")
            assert {row[at] for row in cur.fetchall()} <= {code, ENGLAND}, f"{login} on published.{name}"


def test_region_logins_see_rows_of_their_own_region(everything) -> None:
    """The synthetic ICB spans two regions: each of their logins sees its own rows (the check above
    would pass on empty tables too)."""
    regions = region_codes_in_data()
    assert len(regions) >= 2, regions
    for code in regions:
        with db.connect("warehouse", bi_logins.region_login(code), autocommit=True) as conn:
            seen = rows_by_region(conn, "mart_rollout_pcn_month")
        assert seen.get(code, 0) > 0 and set(seen) <= {code, ENGLAND}, (code, seen)
    assert sum(1 for counts in everything.values() if set(regions) <= set(counts)) >= 5


@pytest.mark.parametrize("login", [bi_logins.NATIONAL_LOGIN, "spw_analyst"])
def test_national_logins_read_every_row(everything, login: str) -> None:
    with db.connect("warehouse", login, autocommit=True) as conn:
        for name, counts in everything.items():
            assert rows_by_region(conn, name) == counts, f"{login} on published.{name}"


def test_no_rows_login_reads_nothing(everything) -> None:
    with db.connect("warehouse", bi_logins.NO_ROWS_LOGIN, autocommit=True) as conn:
        for name in everything:
            assert rows_by_region(conn, name) == {}, f"published.{name}"


def test_every_published_table_has_row_level_security(built_warehouse) -> None:
    with db.connect("warehouse") as conn:
        rows = conn.execute(
            "select c.relname, c.relrowsecurity, count(p.polname) from pg_class as c "
            "join pg_namespace as n on n.oid = c.relnamespace left join pg_policy as p on p.polrelid = c.oid "
            "where n.nspname = 'published' and c.relkind = 'r' group by 1, 2").fetchall()
    assert rows
    for name, enabled, policies in rows:
        # one national policy and one per region
        assert enabled and policies == 1 + len(bi_logins.REGION_CODES), (name, enabled, policies)


@pytest.mark.parametrize("login", [*bi_logins.BI_LOGINS, "spw_analyst"])
@pytest.mark.parametrize("function", sorted(SQL_FROM_STRING_CALLS))
def test_sql_from_string_functions_are_refused(built_warehouse, login: str, function: str) -> None:
    with db.connect("warehouse", login, autocommit=True) as conn, pytest.raises(
            psycopg.errors.InsufficientPrivilege, match=f"function {function}"):
        conn.execute(f"select {SQL_FROM_STRING_CALLS[function]} from published.mart_rollout_progress limit 1")


def test_no_bi_login_may_execute_any_overload_of_them(built_warehouse) -> None:
    """Every overload in the catalogue, including large-object and dblink functions."""
    names = [*SQL_FROM_STRING_CALLS, "loread", "lowrite", "lo_open", "lo_create", "lo_creat", "lo_put",
             "lo_from_bytea", "lo_unlink"]
    with db.connect("warehouse") as conn:
        allowed = conn.execute(
            "select r.rolname, p.oid::regprocedure::text from pg_proc as p cross join pg_roles as r "
            "where (p.proname = any(%s) or p.proname like 'dblink%%') and r.rolname = any(%s) "
            "and has_function_privilege(r.oid, p.oid, 'execute')",
            (names, [*bi_logins.BI_LOGINS, "spw_analyst"])).fetchall()
        overloads = conn.execute("select count(*) from pg_proc where proname = any(%s)", (names,)).fetchone()[0]
    assert overloads >= len(names)
    assert allowed == []


@pytest.mark.parametrize("code", bi_logins.REGION_CODES)
def test_region_login_cannot_become_another_login(built_warehouse, code: str) -> None:
    other = next(c for c in bi_logins.REGION_CODES if c != code)
    with db.connect("warehouse", bi_logins.region_login(code), autocommit=True) as conn:
        for target in (bi_logins.region_login(other), bi_logins.NATIONAL_LOGIN, "spw_analyst", "spw_transformer"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("set role {}").format(sql.Identifier(target)))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select set_config('role', %s, false)", (target,))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("set session authorization {}").format(sql.Identifier(target)))
        assert conn.execute("select current_user, session_user").fetchone() == (bi_logins.region_login(code),) * 2


def test_bi_logins_are_members_of_no_role_and_time_out(built_warehouse) -> None:
    with db.connect("warehouse") as conn:
        members = conn.execute(
            "select u.rolname, g.rolname from pg_auth_members as m join pg_roles as u on u.oid = m.member "
            "join pg_roles as g on g.oid = m.roleid where u.rolname = any(%s)", (list(bi_logins.BI_LOGINS),)
        ).fetchall()
    assert members == []
    for login in bi_logins.BI_LOGINS:
        with db.connect("warehouse", login) as conn:
            assert conn.execute("show statement_timeout").fetchone()[0] == "30s", login


def test_policies_survive_a_rebuild_of_a_published_table(everything) -> None:
    """dbt replaces the table (built and tested in the shadow schema, then moved into place); the post-hook
    gives it the policies. `build`, not `run`: only a tested table is swapped in (methods §9)."""
    from spw.dbtrun import run_dbt

    with db.connect("warehouse") as conn:
        before = conn.execute("select 'published.mart_rollout_progress'::regclass::oid").fetchone()[0]
    run_dbt(["build", "--select", "pub_mart_rollout_progress"])
    with db.connect("warehouse") as conn:
        after = conn.execute("select 'published.mart_rollout_progress'::regclass::oid").fetchone()[0]
    assert after != before, "the table was not rebuilt, so the check would prove nothing"
    code = region_codes_in_data()[0]
    with db.connect("warehouse", bi_logins.region_login(code), autocommit=True) as conn:
        seen = rows_by_region(conn, "mart_rollout_progress")
    assert seen == {r: n for r, n in everything["mart_rollout_progress"].items() if r in (code, ENGLAND)}


def test_one_list_of_regions() -> None:
    """The dbt variable (policies), roles.sql (logins) and bi_logins (passwords, Superset) name the same
    regions."""
    import re
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[1]
    dbt_vars = yaml.safe_load((repo / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    assert tuple(dbt_vars["nhs_region_codes"]) == bi_logins.REGION_CODES
    roles_sql = (repo / "src" / "spw" / "sql" / "roles.sql").read_text()
    for array in re.findall(r"array\[([^\]]*spw_bi_region[^\]]*)\]", roles_sql):
        named = tuple(sorted(set(re.findall(r"spw_bi_region_\w+", array))))
        assert named == bi_logins.REGION_LOGINS, array
    revoked_from = re.search(r"from public, (spw_bi_reader[^']*)'\s*'([^']*)'\s*'([^']*)'", roles_sql)
    assert revoked_from, "roles.sql revokes the functions from the BI logins by name"
    assert set(bi_logins.BI_LOGINS) <= set(re.findall(r"spw_bi_\w+", "".join(revoked_from.groups())))


def test_a_published_table_without_policies_is_read_by_the_national_login_only(built_warehouse) -> None:
    """A deployment upgraded before dbt rebuilt its published tables: `spw up` (roles.sql) must not hand
    a region's login a table that has no row-level security yet."""
    with db.connect("warehouse", autocommit=True) as conn:
        conn.execute("create table published.spw_probe_no_policies as select 'Y60'::text as region_code")
    try:
        db.bootstrap()  # what `spw up` runs
        for login in (*bi_logins.REGION_LOGINS, bi_logins.NO_ROWS_LOGIN):
            with db.connect("warehouse", login, autocommit=True) as conn, pytest.raises(
                    psycopg.errors.InsufficientPrivilege):
                conn.execute("select * from published.spw_probe_no_policies")
        with db.connect("warehouse", bi_logins.NATIONAL_LOGIN, autocommit=True) as conn:
            assert conn.execute("select count(*) from published.spw_probe_no_policies").fetchone()[0] == 1
    finally:
        with db.connect("warehouse", autocommit=True) as conn:
            conn.execute("drop table published.spw_probe_no_policies")
