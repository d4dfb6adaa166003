"""Raw and audit tables of the Postgres warehouse written as CSV (`<schema>.<table>.csv`, with a
header), for raw_import on Spark: the parity check builds both engines from the same rows. Runs in
the airflow venv (psycopg); imports nothing of Spark."""

from __future__ import annotations

from pathlib import Path

from psycopg import sql

from spw import db
from spw.spark.raw_tables import table_columns


def export_csv_folder(folder: Path, dbname: str = "warehouse") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with db.connect(dbname, "spw_loader") as conn, conn.cursor() as cur:
        for name, columns in table_columns().items():
            schema, table = name.split(".")
            query = sql.SQL("copy (select {} from {}.{}) to stdout with (format csv, header)").format(
                sql.SQL(", ").join(_column(col, kind) for col, kind in columns),
                sql.Identifier(schema), sql.Identifier(table))
            with (folder / f"{name}.csv").open("wb") as out, cur.copy(query) as copy:
                for data in copy:
                    out.write(data)


def _column(name: str, kind: str) -> sql.Composable:
    """Timestamps in UTC with all six fraction digits (Spark's CSV reader takes one fixed pattern)."""
    if kind != "timestamp":
        return sql.Identifier(name)
    return sql.SQL("to_char({} at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') as {}").format(
        sql.Identifier(name), sql.Identifier(name))
