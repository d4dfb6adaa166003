"""The landing folder into raw and audit tables on Spark (`spw run --engine spark`), with the loader's
own scan, contract validation and pseudonymisation (src/spw/ingest): the same rows are loaded or
rejected, for the same reasons, as on Postgres.

What differs is only how rows are stored. Each loaded file's valid rows are written, typed, to a CSV
file in a staging folder as the file is read (one file's rows at a time in memory, never a source's);
then raw.<source> is rewritten once per source per run by Spark: the table's rows and the run's files
together, the latest delivery winning by record key. audit.file_loads / audit.rejected_rows get the
run's rows appended. One file is still all or nothing: a rejected file adds only its ledger row and
row errors. Every row passes through this process, as through the Postgres loader; national datasets
are mapped in staging instead (docs/national-scale.md).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spw.ingest import contract as c
from spw.ingest.copy_stream import Parse, csv_field_limit
from spw.ingest.ledger import LoadResult, now
from spw.ingest.loader import delivery_files
from spw.ingest.pseudonymise import Pseudonymiser, mask_nhs
from spw.ingest.rejects import threshold_reason
from spw.ingest.scan import CHUNK, scan_file
from spw.ingest.validate import RowValidator, StructuralError, plan_header
from spw.spark.raw_tables import REJECTED_ROWS_COLUMNS, ddl_schema, ensure_schemas, table_columns
from spw.spark.session import spark_dir

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CONVERT = {"text": str, "date": date.fromisoformat, "int": int, "decimal": Decimal}


@dataclass
class FileRows:
    """A file's valid rows (raw column -> value) by record key, and its row errors."""

    rows: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    errors: list[tuple[int, str | None, str, str | None]] = field(default_factory=list)
    repeated_keys: list[int] = field(default_factory=list)  # lines whose key an earlier line had
    seen: dict[tuple[str | None, ...], int] = field(default_factory=dict)  # key as text -> first line

    def key_seen(self, key: list[str | None] | tuple[Any, ...], line: int) -> None:
        """Record a key (a rejected row's too, data contract §4); a repeat is remembered by line."""
        text = tuple(None if v is None else str(v) for v in key)
        if text in self.seen:
            self.repeated_keys.append(line)
        else:
            self.seen[text] = line


def records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) of every non-blank record after the header."""
    with open(path, "rb") as f, csv_field_limit():
        text = io.TextIOWrapper(io.BufferedReader(f, CHUNK), encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        for rec in reader:
            yield reader.line_num, rec


def typed_row(source: c.Source, stage_columns: list[str], values: list[str | None]) -> dict[str, Any]:
    row = dict(zip(stage_columns, values, strict=True))
    out: dict[str, Any] = {}
    if source.person_level:
        out[c.PATIENT_KEY] = row[c.PATIENT_KEY]
    for col in source.columns:
        v = row.get(col.name)
        v = v if v not in (None, "") else col.default
        out[col.name] = None if v in (None, "") else CONVERT[col.type](v)
    return out


def parse_delivery(source: c.Source, path: Path, today: date, pseudonymiser: Pseudonymiser,
                   known_patients: set[str], parse: Parse) -> FileRows:
    """Validate and pseudonymise every record (RowValidator, as the Postgres loader's stream does)."""
    found = FileRows()
    it = records(path)
    first = next(it, None)
    if first is None:
        raise StructuralError("the file is empty: no header line")
    plan = plan_header(source, first[1])
    parse.warnings.extend(plan.warnings)
    validator = RowValidator(plan, today, pseudonymiser)
    for line, rec in it:
        if not rec or (len(rec) == 1 and not rec[0].strip()):
            parse.blank_lines += 1
            continue
        values, errors = validator.validate(rec)
        suspects, validator.suspects = validator.suspects, []
        if errors is None and suspects:
            # a valid NHS number run together in an identifier: an error only when it is a known patient's
            hits = [(col, n) for col, n in suspects
                    if n in pseudonymiser.nhs_cache or pseudonymiser.key_of(n) in known_patients]
            if hits:
                errors = [(col, c.RULE_NHS_IN_TEXT, mask_nhs(rec[plan.positions[col]])) for col, _ in hits]
        parse.rows_read += 1
        if errors is not None:
            parse.rows_rejected += 1
            if parse.first_error is None:
                parse.first_error = (line, *errors[0])
            found.errors += [(line, *e) for e in errors]
            readable = validator.record_key(rec)
            if readable is not None:
                found.key_seen(readable[0], line)
            continue
        row = typed_row(source, validator.stage_columns, values)  # type: ignore[arg-type]
        key = tuple(row[k] for k in source.key)
        found.key_seen(key, line)
        found.rows[key] = row
    parse.rows_loaded = len(found.rows)
    return found


def load_landing(spark: SparkSession, landing: Path, run_id: str, today: date | None = None,
                 max_invalid_fraction: float = 0.01) -> list[LoadResult]:
    """Every source's deliveries in lexical order (patients before the sources that name them)."""
    today = today or date.today()
    ensure_schemas(spark)
    _ensure_tables(spark)
    loaded = {r.sha256 for r in spark.sql("select sha256 from audit.file_loads where status = 'loaded'").collect()}
    pseudonymiser = Pseudonymiser()
    results: list[LoadResult] = []
    rejected_rows: list[tuple[Any, ...]] = []
    known_patients = {r.patient_key for r in spark.table("raw.patients").select(c.PATIENT_KEY).collect()}
    stage = spark_dir() / "load-stage" / run_id
    try:
        for source in c.SOURCES.values():
            deliveries: list[Delivery] = []
            for path in delivery_files(landing / source.name):
                result, found = _load_file(source, path, today, pseudonymiser, known_patients, loaded, run_id,
                                           max_invalid_fraction)
                results.append(result)
                rejected_rows += [(source.name, result.file_name, result.sha256, line, col, rule, value)
                                  for line, col, rule, value in (found.errors if found else [])]
                if result.status != "loaded" or found is None:
                    continue
                delivery = Delivery(len(deliveries) + 1, result.file_name, result.sha256, result.started_at)
                _write_stage(source, stage / source.name / f"{delivery.ordinal:06d}.csv", delivery, found)
                deliveries.append(delivery)
                loaded.add(result.sha256)
                if source.name == "patients":
                    known_patients.update(row[c.PATIENT_KEY] for row in found.rows.values())
            if deliveries:
                _merge_raw(spark, source, stage / source.name, deliveries)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _append_audit(spark, results, rejected_rows)
    return results


@dataclass(frozen=True)
class Delivery:
    """A loaded file of this run: its order among the source's files (later wins) and its lineage."""

    ordinal: int
    file_name: str
    sha256: str
    loaded_at: datetime


def _csv_value(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")  # never an exponent, which Spark's decimal parser refuses
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _write_stage(source: c.Source, path: Path, delivery: Delivery, found: FileRows) -> None:
    """The file's valid rows as CSV (data columns of raw.<source>, then the delivery's ordinal)."""
    names = [n for n, _ in table_columns()[f"raw.{source.name}"][:-3]]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        for row in found.rows.values():
            writer.writerow([*(_csv_value(row.get(n)) for n in names), delivery.ordinal])


def _merge_raw(spark: SparkSession, source: c.Source, folder: Path, deliveries: list[Delivery]) -> None:
    """raw.<source> replaced by its rows and this run's, the latest delivery of a record key kept (the
    table's rows count as delivery 0). Written aside first: Spark cannot overwrite a table in the
    statement that reads it."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    columns = table_columns()[f"raw.{source.name}"]
    data = ddl_schema(columns[:-3])
    # unquoted empty fields are NULL (the loader keeps no empty strings); quotes doubled, as csv writes
    new = spark.read.schema(f"{data}, `_delivery` int").csv(
        str(folder), header=False, multiLine=True, escape='"', mode="FAILFAST")
    stamps = spark.createDataFrame(
        [(d.ordinal, d.file_name, d.sha256, d.loaded_at) for d in deliveries],
        "`_delivery` int, `file_name` string, `file_sha256` string, `loaded_at` timestamp")
    merged = spark.table(f"raw.{source.name}").withColumn("_delivery", F.lit(0)).unionByName(
        new.join(F.broadcast(stamps), "_delivery"))
    latest = Window.partitionBy(*source.key).orderBy(F.col("_delivery").desc())
    rows = merged.withColumn("_rank", F.row_number().over(latest)).where("_rank = 1").select(
        *[n for n, _ in columns])
    rows.write.mode("overwrite").format("parquet").saveAsTable(f"raw.{source.name}__next")
    spark.sql(f"drop table if exists raw.{source.name}")
    spark.sql(f"alter table raw.{source.name}__next rename to raw.{source.name}")


def _load_file(source: c.Source, path: Path, today: date, pseudonymiser: Pseudonymiser, known: set[str],
               loaded: set[str], run_id: str, max_invalid_fraction: float) -> tuple[LoadResult, FileRows | None]:
    scan = scan_file(path)
    file_name = mask_nhs(path.name) or path.name
    result = LoadResult(source.name, file_name, scan.sha256, scan.size, "loaded", started_at=now(), run_id=run_id)
    found = None
    if scan.sha256 in loaded:
        result.status = "duplicate"
    elif scan.fault:
        result.status, result.reason = "rejected", scan.fault
    else:
        parse = Parse()
        try:
            found = parse_delivery(source, path, today, pseudonymiser, known, parse)
            reason = threshold_reason(parse, max_invalid_fraction)
            if reason is None and found.repeated_keys:
                reason = (f"{len(found.repeated_keys)} rows repeat a record key of an earlier row of the file "
                          f"(first at line {found.repeated_keys[0]}); nothing from the file was loaded")
        except StructuralError as exc:
            reason = str(exc)
        if reason:
            result.status, result.reason = "rejected", mask_nhs(reason)
        result.rows_read, result.rows_rejected = parse.rows_read, parse.rows_rejected
        result.rows_loaded = parse.rows_loaded if result.status == "loaded" else 0
        result.warnings = parse.warnings + ([f"skipped {parse.blank_lines} blank line(s)"] if parse.blank_lines else [])
    result.finished_at = now()
    return result, found


def _ensure_tables(spark: SparkSession) -> None:
    for name, columns in table_columns().items():
        spark.sql(f"create table if not exists {name} ({ddl_schema(columns)}) using parquet")


def _append_audit(spark: SparkSession, results: list[LoadResult], rejected: list[tuple[Any, ...]]) -> None:
    columns = table_columns()
    first_id = spark.sql("select coalesce(max(id), 0) from audit.file_loads").collect()[0][0] + 1
    ledger = [(first_id + i, r.source, r.file_name, r.sha256, r.bytes, r.rows_read, r.rows_loaded, r.rows_rejected,
               r.status, mask_nhs(r.reason), mask_nhs("; ".join(r.warnings)) or None,
               r.started_at, r.finished_at, r.run_id) for i, r in enumerate(results)]
    if ledger:
        spark.createDataFrame(ledger, ddl_schema(columns["audit.file_loads"])).write.mode("append") \
            .format("parquet").saveAsTable("audit.file_loads")
    if rejected:
        first_row = spark.sql("select coalesce(max(id), 0) from audit.rejected_rows").collect()[0][0] + 1
        rows = [(first_row + i, *r) for i, r in enumerate(rejected)]
        spark.createDataFrame(rows, ddl_schema(REJECTED_ROWS_COLUMNS)).write.mode("append") \
            .format("parquet").saveAsTable("audit.rejected_rows")

