"""Raw and audit tables copied onto Spark from CSV files exported from the Postgres warehouse
(`<schema>.<table>.csv` with a header): the parity check builds both engines from the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from spw.spark.raw_tables import ddl_schema, ensure_schemas, table_columns

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def import_csv_folder(spark: SparkSession, folder: Path) -> None:
    ensure_schemas(spark)
    for name, columns in table_columns().items():
        path = folder / f"{name}.csv"
        if not path.exists():
            raise FileNotFoundError(f"{path}: every raw and audit table is exported, empty ones too")
        frame = (spark.read.option("header", True).option("multiLine", True).option("escape", '"')
                 .option("timestampFormat", "yyyy-MM-dd HH:mm:ss.SSSSSS")
                 .schema(ddl_schema(columns)).csv(str(path)))
        frame.write.mode("overwrite").format("parquet").saveAsTable(name)
