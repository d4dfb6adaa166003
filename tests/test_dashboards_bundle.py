"""The committed Superset bundle is what dashboards/build_bundle.py writes from the definitions and the
published tables of a freshly built warehouse (make test runs this, so a stale bundle fails it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _build_bundle():
    spec = importlib.util.spec_from_file_location("build_bundle", REPO / "dashboards" / "build_bundle.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_stale_files_names_every_difference(tmp_path: Path) -> None:
    bb = _build_bundle()
    fresh, committed = tmp_path / "fresh", tmp_path / "committed"
    for root in (fresh, committed):
        (root / "charts").mkdir(parents=True)
        (root / "charts" / "same.yaml").write_text("a: 1\n")
    (fresh / "charts" / "changed.yaml").write_text("a: 2\n")
    (committed / "charts" / "changed.yaml").write_text("a: 1\n")
    (fresh / "datasets" / "warehouse").mkdir(parents=True)
    (fresh / "datasets" / "warehouse" / "new.yaml").write_text("x: 1\n")
    (committed / "old.yaml").write_text("y: 1\n")
    assert bb.stale_files(fresh, committed) == ["charts/changed.yaml", "datasets/warehouse/new.yaml", "old.yaml"]
    assert bb.stale_files(fresh, fresh) == []


@pytest.mark.usefixtures("built_warehouse")
def test_committed_bundle_is_fresh(capsys: pytest.CaptureFixture[str]) -> None:
    rc = _build_bundle().main(["--check"])
    assert rc == 0, capsys.readouterr().out


def test_readers_see_names_not_codes() -> None:
    """Filters, table columns, axes and series show names and words; a code column is shown only beside
    the name it belongs to (the PCN table's code next to the PCN's name)."""
    d = _build_bundle().d
    codes = {"geography_level", "geography_code", "region_code", "icb_code", "sub_icb_code", "pcn_code", "measure",
             "category", "design", *d.VALUE_LABELS}
    beside = {"pcn_code": "pcn_name", "geography_code": "geography_name"}
    filters = [f.column for dash in d.DASHBOARDS for f in dash.filters]
    assert not [c for c in filters if c in codes or c.endswith("_code")], "a filter offers codes"
    for area in ("region_name", "icb_name", "sub_icb_name", "pcn_name"):
        assert area in filters, f"no filter by {area}"
    for c in d.CHARTS:
        shown = [*c.columns, *c.groupby, *([c.x] if c.x else [])]
        bare = [col for col in shown if col in codes and beside.get(col) not in shown]
        assert not bare, f"chart {c.key} shows codes {bare}"
