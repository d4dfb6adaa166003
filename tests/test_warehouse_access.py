"""Who may read what in a built warehouse (outputs.md, schema table; src/spw/sql/roles.sql).

The BI reader (Superset's login) must see the published layer and nothing else, every published
table must be a real table carrying `region_code` for row-level security, and named analysts read
marts, published and audit. Checked on the warehouse the real pipeline built (`built_warehouse`),
so the grants are the ones that survive dbt replacing its tables.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from spw import db

pytestmark = pytest.mark.slow

# Every mart has a published twin of the same name (outputs.md).
MARTS = (
    "mart_demand_reduction", "mart_cohort_attrition", "mart_rollout_pcn_month", "mart_rollout_progress",
    "mart_wellbeing_outcomes", "mart_referral_pathway", "mart_equity", "mart_data_quality",
)
CLOSED_TO_BI = ("raw", "staging", "intermediate", "marts", "audit", "reference")
ANALYST_READS = ("marts", "published", "audit")
ANALYST_CLOSED = ("raw",)


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
    "pct_change", "pct_change_ci_low", "pct_change_ci_high", "n_matched", "n_unmatched", "control_pre_mean",
    "control_post_mean", "did_mean", "did_ci_low", "did_ci_high", "did_pct", "did_pct_ci_low", "did_pct_ci_high",
    "cost_gbp", "cost_change_gbp",
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
