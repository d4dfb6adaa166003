"""House rules of the dbt project that a reviewer would otherwise check by eye (docs/developer-notes.md)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DBT = Path(__file__).resolve().parents[1] / "dbt_project"
MACRO = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(")


def _macros() -> dict[str, str]:
    """Macro name -> file, dispatch implementations (<adapter>__name) left out."""
    found = {}
    for path in sorted((DBT / "macros").glob("*.sql")):
        for name in MACRO.findall(path.read_text()):
            if "__" not in name:
                found[name] = path.name
    return found


def test_every_macro_is_documented_beside_it() -> None:
    documented: list[str] = []
    for path in sorted((DBT / "macros").glob("_*.yml")):
        documented += [m["name"] for m in yaml.safe_load(path.read_text())["macros"]]
    missing = sorted(set(_macros()) - set(documented))
    assert not missing, f"macros without an entry in a macros/_*.yml: {missing}"
    twice = sorted({n for n in documented if documented.count(n) > 1})
    assert not twice, f"macros documented twice: {twice}"


def test_dispatch_only_for_engines_a_test_runs() -> None:
    """Postgres and Spark (tests/test_spark_parity.py builds with every spark__ macro); no other."""
    for path in (DBT / "macros").glob("*.sql"):
        assert not re.search(r"macro\s+(databricks|snowflake|bigquery|duckdb|trino)__", path.read_text()), path.name


def test_models_hold_no_hand_built_change_tracking() -> None:
    """Full rebuild is the reference: no compile-time queries or lineage hints in models."""
    for path in (DBT / "models").rglob("*.sql"):
        text = path.read_text()
        assert "run_query" not in text and "depends_on" not in text, path
        if "is_incremental()" in text:  # one visible block, no more
            assert text.count("is_incremental()") == 1, path


def test_intermediate_models_sit_in_a_concern_folder_with_their_yaml() -> None:
    for path in (DBT / "models" / "intermediate").rglob("*.sql"):
        folder = path.parent
        assert folder.parent.name == "intermediate", path
        assert (folder / f"_int_{folder.name}__models.yml").exists(), folder
