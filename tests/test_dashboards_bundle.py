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
             "category", "design", *d.value_labels()}
    beside = {"pcn_code": "pcn_name", "geography_code": "geography_name"}
    filters = [f.column for dash in d.DASHBOARDS for f in dash.filters]
    assert not [c for c in filters if c in codes or c.endswith("_code")], "a filter offers codes"
    for area in ("region_name", "icb_name", "sub_icb_name", "pcn_name"):
        assert area in filters, f"no filter by {area}"
    for c in d.CHARTS:
        shown = [*c.columns, *c.groupby, *([c.x] if c.x else [])]
        bare = [col for col in shown if col in codes and beside.get(col) not in shown]
        assert not bare, f"chart {c.key} shows codes {bare}"


def test_committed_label_columns_say_the_seeds_words() -> None:
    """The words of `<code>_label` come from one place, the dbt seed ref_value_labels: every committed
    dataset's calculated `<code>_label` is the seed's code-to-word `case`, every seed row is in it, a code
    without a word prints as itself, and every code column of the seed is shown in words somewhere."""
    import csv

    import yaml

    d = _build_bundle().d
    seed = REPO / "dbt_project" / "seeds" / "ref_value_labels.csv"
    assert seed == d.VALUE_LABELS_SEED
    with seed.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["code_column"] and r["code"] and r["label"] for r in rows)
    assert len({(r["code_column"], r["code"]) for r in rows}) == len(rows), "a code has two words"
    used = set()
    for path in sorted((REPO / "dashboards" / "bundle" / "datasets").rglob("*.yaml")):
        columns = yaml.safe_load(path.read_text())["columns"]
        for c in columns:
            code = c["column_name"].removesuffix("_label")
            if c["column_name"].endswith("_label") and code in d.value_labels() and c["expression"]:
                used.add(code)
                expr = c["expression"]
                assert expr == d.in_words(code)[0], f"{path.name}: {c['column_name']} is not the seed's words"
                for r in rows:
                    if r["code_column"] == code:
                        assert f"when '{r['code']}' then '{r['label']}'" in expr, (path.name, r)
                assert expr.endswith(f" else {code} end"), f"{path.name}: {c['column_name']} drops unknown codes"
    assert used == set(d.value_labels()), f"seed code columns no dataset shows: {set(d.value_labels()) - used}"
