"""Raw and audit tables on Spark: Parquet tables in the catalog with the contract's columns, the same
names and meaning as the Postgres loader's (docs/developer-notes.md, raw tables)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from spw.ingest import contract as c

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# The contract's types on Spark. Decimals keep 18 places: staging rounds them to 6, as on Postgres.
SPARK_TYPES = {"text": "string", "date": "date", "int": "int", "decimal": "decimal(38,18)"}

FILE_LOADS_COLUMNS = (
    ("id", "bigint"), ("source", "string"), ("file_name", "string"), ("sha256", "string"),
    ("bytes", "bigint"), ("rows_read", "bigint"), ("rows_loaded", "bigint"), ("rows_rejected", "bigint"),
    ("status", "string"), ("reason", "string"), ("warnings", "string"), ("started_at", "timestamp"),
    ("finished_at", "timestamp"), ("run_id", "string"),
)
REJECTED_ROWS_COLUMNS = (
    ("id", "bigint"), ("source", "string"), ("file_name", "string"), ("sha256", "string"),
    ("line_number", "bigint"), ("column_name", "string"), ("rule", "string"), ("value", "string"),
)
AUDIT_TABLES = {"file_loads": FILE_LOADS_COLUMNS, "rejected_rows": REJECTED_ROWS_COLUMNS}


def raw_columns(source: c.Source) -> tuple[tuple[str, str], ...]:
    """(name, Spark type) of raw.<source>, lineage columns last as on Postgres."""
    cols = [(c.PATIENT_KEY, "string")] if source.person_level else []
    cols += [(col.name, SPARK_TYPES[col.type]) for col in source.columns]
    return (*cols, ("file_name", "string"), ("file_sha256", "string"), ("loaded_at", "timestamp"))


def ddl_schema(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"`{name}` {kind}" for name, kind in columns)


def ensure_schemas(spark: SparkSession) -> None:
    for schema in ("raw", "audit"):
        spark.sql(f"create database if not exists {schema}")


def table_columns() -> dict[str, tuple[tuple[str, str], ...]]:
    """Every table the loader writes: `raw.<source>` and `audit.<table>`."""
    tables = {f"raw.{s.name}": raw_columns(s) for s in c.SOURCES.values()}
    tables.update({f"audit.{name}": cols for name, cols in AUDIT_TABLES.items()})
    return tables
