"""The dbt project's lists of contract sources and event sources are generated from the contract."""

from __future__ import annotations

import pytest

from spw import dbt_vocabulary
from spw.ingest import contract


def test_generated_vocabulary_is_fresh() -> None:
    """dbt_project/macros/contract_vocabulary.sql is what `python -m spw.dbt_vocabulary` writes now."""
    assert dbt_vocabulary.main(["--check"]) == 0


def test_vocabulary_follows_the_contract() -> None:
    vocabulary = dbt_vocabulary.vocabulary()
    assert [s["source"] for s in vocabulary["contract_sources"]] == list(contract.SOURCE_NAMES)
    for event in vocabulary["event_sources"]:
        assert {event["date"], event["id"]} <= set(contract.SOURCES[event["source"]].column_names)


def test_a_contract_source_without_a_staging_model_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract, "SOURCE_NAMES", (*contract.SOURCE_NAMES, "new_source"))
    with pytest.raises(KeyError, match="new_source"):
        dbt_vocabulary.vocabulary()


def test_a_stale_file_fails_the_check(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dbt_vocabulary, "repo_root", lambda: tmp_path)
    (tmp_path / dbt_vocabulary.TARGET).parent.mkdir(parents=True)
    (tmp_path / dbt_vocabulary.TARGET).write_text(dbt_vocabulary.render().replace("practices", "practice"))
    assert dbt_vocabulary.main(["--check"]) == 1
