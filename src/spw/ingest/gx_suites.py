"""Great Expectations 1.x suites, validation definitions and checkpoints for raw.<source>, as code.

The suites restate the contract on what actually landed in raw (a second line of defence behind the
loader): columns, required values, record-key uniqueness, code sets, patterns, ranges, order rules.
The GX file context lives in expectations/ (expectations/gx/...). The warehouse connection string
is written as "${SPW_GX_WAREHOUSE_URL}", so no password reaches the YAML.

Import cost: great_expectations takes seconds to import, so import this module inside tasks.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spw.config import expectations_dir
from spw.ingest import contract as c

URL_ENV = "SPW_GX_WAREHOUSE_URL"
DATASOURCE = "warehouse"


def _quiet() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def suite_name(source: str) -> str:
    return f"raw_{source}"


def expectations_for(source: c.Source) -> list:
    """The GX expectations of raw.<source>, derived from the contract."""
    import great_expectations.expectations as gxe

    raw_cols = [n for n, _ in source.raw_columns]
    out: list = [gxe.ExpectTableColumnsToMatchSet(column_set=[*raw_cols, "file_name", "file_sha256", "loaded_at"],
                                                  exact_match=True)]
    for name in ("file_name", "file_sha256", "loaded_at"):
        out.append(gxe.ExpectColumnValuesToNotBeNull(column=name))
    if source.person_level:
        out.append(gxe.ExpectColumnValuesToNotBeNull(column=c.PATIENT_KEY))
        out.append(gxe.ExpectColumnValuesToMatchRegex(column=c.PATIENT_KEY, regex=r"^[0-9a-f]{64}$"))
    if len(source.key) == 1:
        out.append(gxe.ExpectColumnValuesToBeUnique(column=source.key[0]))
    else:
        out.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(source.key)))
    for col in source.columns:
        out.extend(_column_expectations(col))
    for rule in source.order_rules:
        out.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=rule.later, column_B=rule.earlier, or_equal=True, ignore_row_if="either_value_is_missing"))
    return out


def _column_expectations(col: c.Column) -> Iterator:
    import great_expectations.expectations as gxe

    if col.required or col.default is not None:
        yield gxe.ExpectColumnValuesToNotBeNull(column=col.name)
    if col.codes is not None:
        yield gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=sorted(col.codes))
    if col.pattern is not None:
        yield gxe.ExpectColumnValuesToMatchRegex(column=col.name, regex=col.pattern)
    if col.list_codes is not None:
        items = "|".join(sorted(col.list_codes))
        yield gxe.ExpectColumnValuesToMatchRegex(column=col.name, regex=f"^({items})(;({items}))*$")
    if col.type == "date":
        yield gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=c.MIN_DATE)
    if col.type in ("int", "decimal") and (col.min is not None or isinstance(col.max, int | float)):
        hi = col.max if isinstance(col.max, int | float) else None
        yield gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.min, max_value=hi)


@dataclass(frozen=True)
class GateResult:
    source: str
    success: bool
    failed: list[str]  # "expectation_type(column)" of each failed expectation

    def summary(self) -> str:
        if self.success:
            return f"raw.{self.source}: all expectations met"
        return f"raw.{self.source}: {len(self.failed)} expectation(s) failed: {', '.join(self.failed)}"


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Parallel gate tasks share one GX project folder: serialise writes to it."""
    from spw.config import spw_home

    root.mkdir(parents=True, exist_ok=True)
    with open(spw_home() / "gx.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def get_context(root: Path | None = None):
    _quiet()
    import great_expectations as gx

    return gx.get_context(mode="file", project_root_dir=str(root or expectations_dir()))


def build(sources: list[str] | None = None, root: Path | None = None) -> list[str]:
    """Create or update the datasource, suites, validation definitions and checkpoints; return names."""
    root = root or expectations_dir()
    os.environ[URL_ENV] = warehouse_url()  # GX tests the connection when it saves the datasource
    with _locked(root):
        return _build(get_context(root), sources or list(c.SOURCE_NAMES))


def _build(context, sources: list[str]) -> list[str]:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # Progress bars flood task logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()

    ds = context.data_sources.add_or_update_postgres(name=DATASOURCE, connection_string="${" + URL_ENV + "}")
    names = []
    for name in sources:
        source = c.get_source(name)
        asset_name = f"raw_{name}"
        existing = {a.name for a in ds.assets}
        asset = ds.get_asset(asset_name) if asset_name in existing else ds.add_table_asset(
            name=asset_name, table_name=name, schema_name="raw")
        batch_names = {b.name for b in asset.batch_definitions}
        batch = asset.get_batch_definition("whole_table") if "whole_table" in batch_names else \
            asset.add_batch_definition_whole_table("whole_table")
        suite = context.suites.add_or_update(gx.ExpectationSuite(name=suite_name(name),
                                                                 expectations=expectations_for(source)))
        vd = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"validate_raw_{name}", data=batch, suite=suite))
        context.checkpoints.add_or_update(gx.Checkpoint(name=f"raw_{name}", validation_definitions=[vd],
                                                        actions=[]))
        names.append(f"raw_{name}")
    return names


def warehouse_url() -> str:
    """SQLAlchemy URL of the warehouse as the loader (owner of raw), for the GX datasource."""
    from spw import db

    url = db.url("warehouse", "spw_loader")
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def run_gate(source: str, root: Path | None = None) -> GateResult:
    """Validate raw.<source> with its checkpoint; the caller fails the task when not success."""
    root = root or expectations_dir()
    os.environ[URL_ENV] = warehouse_url()
    with _locked(root):
        context = get_context(root)
        names = {cp.name for cp in context.checkpoints.all()}
        if f"raw_{source}" not in names:
            _build(context, [source])
        checkpoint = context.checkpoints.get(f"raw_{source}")
    result = checkpoint.run()
    failed = []
    for run in result.run_results.values():
        for r in run.results:
            if not r.success:
                cfg = r.expectation_config
                col = cfg.kwargs.get("column") or cfg.kwargs.get("column_list") or cfg.kwargs.get("column_A") or ""
                failed.append(f"{cfg.type}({col})")
    return GateResult(source, bool(result.success), failed)


if __name__ == "__main__":  # python -m spw.ingest.gx_suites: (re)write the GX project files
    print("\n".join(build()))
