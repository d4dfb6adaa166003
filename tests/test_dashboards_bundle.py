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
