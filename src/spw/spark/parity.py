"""Parity of the warehouse on two engines: every table of the marts and the published layer built on
Postgres and on Spark, compared row for row. Counts, keys and every column Postgres stores as text,
integer, date or boolean must be equal; derived values (numeric, double precision) equal to a
relative bound (1e-9 unless a column is given a looser one, with its reason)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

# Layers compared and the schema each is read from on both engines: published tables are those of
# the shadow schema (the builds compared run no data tests, so the swap into `published` does not
# happen; the data tests run in the session's Postgres pipeline).
SCHEMAS = {"marts": "marts", "published": "published_shadow"}
DERIVED_TYPES = frozenset({"numeric", "double precision", "real"})
RELATIVE_BOUND = 1e-9
# A value that exact arithmetic makes 0 (a difference of equal means) comes out as +-1e-17 or so in
# floating point on either engine: differences below this are equal whatever their ratio.
ABSOLUTE_FLOOR = 1e-12


@dataclass
class TableParity:
    name: str
    pg_rows: int
    spark_rows: int
    exact_mismatches: list[str] = field(default_factory=list)
    worst: dict[str, float] = field(default_factory=dict)  # derived column -> largest relative difference

    def problems(self, bounds: dict[str, float]) -> list[str]:
        out = []
        if self.pg_rows != self.spark_rows:
            out.append(f"{self.name}: {self.pg_rows} rows on Postgres, {self.spark_rows} on Spark")
        out += [f"{self.name}: {m}" for m in self.exact_mismatches[:5]]
        for col, diff in sorted(self.worst.items()):
            bound = bounds.get(f"{self.name}.{col}", RELATIVE_BOUND)
            if not diff <= bound:
                out.append(f"{self.name}.{col}: relative difference {diff:.3g} > {bound:g}")
        return out


def postgres_tables(conn: psycopg.Connection) -> dict[str, list[tuple[str, str]]]:
    """`<layer>.<table>` -> [(column, Postgres type)] for every table of the compared layers."""
    layer_of = {schema: layer for layer, schema in SCHEMAS.items()}
    rows = conn.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_schema = any(%s) order by table_schema, table_name, ordinal_position",
        (list(layer_of),)).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, kind in rows:
        tables.setdefault(f"{layer_of[schema]}.{table}", []).append((column, kind))
    return tables


def postgres_rows(conn: psycopg.Connection, name: str) -> list[dict[str, Any]]:
    """Rows of `<layer>.<table>` (a compared layer, read from its schema) or of `<schema>.<table>`."""
    layer, table = name.split(".")
    schema = SCHEMAS.get(layer, layer)
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        query = sql.SQL("select * from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        return cur.execute(query).fetchall()


def spark_rows(folder: Path, name: str) -> list[dict[str, Any]]:
    """Rows Spark wrote as JSON lines (spw.spark.build --export) under folder/<layer>.<table>/."""
    rows = []
    for part in sorted((folder / name).glob("part-*.json")):
        for line in part.read_text().splitlines():
            rows.append(json.loads(line, parse_float=Decimal))
    return rows


def _exact(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _spark_exact(value: Any, kind: str) -> Any:
    if value is not None and kind.startswith("timestamp"):
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return _exact(value)


def _sort_key(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, str(type(v).__name__) if v is not None else "", v if v is not None else 0)
                 for v in values)


def relative_difference(a: Any, b: Any) -> float:
    if a is None or b is None:
        return 0.0 if a is None and b is None else math.inf
    x, y = float(a), float(b)
    if x == y or abs(x - y) <= ABSOLUTE_FLOOR:
        return 0.0
    return abs(x - y) / max(abs(x), abs(y))


def compare_table(name: str, columns: list[tuple[str, str]], pg: list[dict[str, Any]],
                  spark: list[dict[str, Any]]) -> TableParity:
    result = TableParity(name, len(pg), len(spark))
    exact = [c for c, kind in columns if kind not in DERIVED_TYPES]
    derived = [c for c, kind in columns if kind in DERIVED_TYPES]
    kinds = dict(columns)

    def keyed(rows: list[dict[str, Any]], on_spark: bool) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        out = []
        for row in rows:
            key = tuple(_spark_exact(row.get(c), kinds[c]) if on_spark else _exact(row.get(c)) for c in exact)
            # rows equal in every exact column pair up by their derived values, to 6 significant digits
            tie = tuple(None if row.get(c) is None else float(f"{float(row[c]):.6g}") for c in derived)
            out.append((key + tie, row))
        return sorted(out, key=lambda kr: _sort_key(kr[0]))

    left, right = keyed(pg, False), keyed(spark, True)
    result.worst = dict.fromkeys(derived, 0.0)
    for (lkey, lrow), (rkey, rrow) in zip(left, right, strict=False):
        if lkey[:len(exact)] != rkey[:len(exact)]:
            diff = {c: (a, b) for c, a, b in zip(exact, lkey, rkey, strict=True) if a != b}
            result.exact_mismatches.append(f"row differs in {diff}")
            continue
        for c in derived:
            result.worst[c] = max(result.worst[c], relative_difference(lrow.get(c), rrow.get(c)))
    return result


# Loading compared too: raw tables in every column but the load time, the ledger and the row errors
# in what they record (reasons are the loader's sentences and may be worded apart).
LOAD_TABLES = {
    "audit.file_loads": ("source", "file_name", "sha256", "bytes", "status", "rows_read", "rows_loaded",
                         "rows_rejected"),
    "audit.rejected_rows": ("source", "file_name", "sha256", "line_number", "column_name", "rule"),
}


def load_columns(name: str) -> tuple[str, ...]:
    """Columns compared of a raw or audit table (raw: all but loaded_at)."""
    from spw.spark.raw_tables import table_columns

    if name in LOAD_TABLES:
        return LOAD_TABLES[name]
    return tuple(col for col, _ in table_columns()[name] if col != "loaded_at")


def compare_load_table(name: str, pg: list[dict[str, Any]], spark: list[dict[str, Any]]) -> list[str]:
    """Problems (none when equal) of a raw or audit table: the multisets of compared rows."""
    from collections import Counter

    cols = load_columns(name)
    left = Counter(tuple(_exact(r.get(c)) for c in cols) for r in pg)
    right = Counter(tuple(_exact(r.get(c)) for c in cols) for r in spark)
    if left == right:
        return []
    only_pg, only_spark = left - right, right - left
    sample = next(iter(only_pg or only_spark))
    return [f"{name}: {sum(only_pg.values())} rows only on Postgres, {sum(only_spark.values())} only on Spark "
            f"(e.g. {dict(zip(cols, sample, strict=True))})"]
