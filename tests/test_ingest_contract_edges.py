"""Edges of the data contract found by an audit: NHS numbers in every written form are masked, number
ranges are exact, numbers too large for PostgreSQL are row errors, and the pseudonymisation key is
never made up by a load."""

from __future__ import annotations

import re
import sys
from datetime import date
from itertools import product
from pathlib import Path

import pytest
from ingest_helpers import write_csv

from spw.ingest import contract as c
from spw.ingest.loader import load_file, load_source
from spw.ingest.pseudonymise import Pseudonymiser, contains_nhs_number, mask_nhs, nhs_number_from
from spw.ingest.validate import RowValidator, plan_header

TODAY = date(2025, 6, 30)
# Identities of these tests come from a range no other ingestion test uses.
NHS = [x for x in (nhs_number_from(n) for n in range(700_000_000, 700_000_300)) if x]


def _digits(text: object) -> str:
    return re.sub(r"[^0-9]", "", str(text))


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize("first,second", list(product(["", " ", "-", "."], repeat=2)))
def test_mask_covers_every_form_the_detector_accepts(first: str, second: str) -> None:
    n = NHS[0]
    written = f"{n[:3]}{first}{n[3:6]}{second}{n[6:]}"
    text = f"pt {written}, called"
    assert contains_nhs_number(text)
    masked = mask_nhs(text)
    assert n not in _digits(masked) and not contains_nhs_number(masked)
    assert masked == "pt " + re.sub(r"[0-9]", "*", written) + ", called"


def test_mask_keeps_what_cannot_be_an_nhs_number() -> None:
    assert mask_nhs("943476591 and 94-347-6591 and 1234 567 8901") == "943476591 and 94-347-6591 and 1234 567 8901"
    assert mask_nhs("12345678901234 555") == "************** 555"  # any run of 10+ digits, as before
    assert mask_nhs("file 400 0000071.csv") == "file *** *******.csv"


# ---------------------------------------------------------------- validator (no database)


def _validator(source: str, header: list[str]) -> RowValidator:
    return RowValidator(plan_header(c.get_source(source), header), TODAY, Pseudonymiser(b"k"))


WELLBEING = ["assessment_id", "referral_id", "assessment_date", "assessment_type", "instrument", "item", "score"]


def _score(v: RowValidator, instrument: str, score: str) -> list | None:
    item = "happy" if instrument == "ONS4" else "total"
    return v.validate(["W1", "R1", "2024-03-10", "baseline", instrument, item, score])[1]


@pytest.mark.parametrize("instrument,score,rule", [
    ("SWEMWBS", "35.00000000000000001", "range_for"),  # float() rounds it to 35.0
    ("SWEMWBS", "6.99999999999999999", "range_for"),  # ... and this to 7.0
    ("ONS4", "10.0000000000000001", "range_for"),
    ("WEMWBS", "70.00000000000000001", "range"),  # above every instrument: the column's own range
    ("SWEMWBS", "35.000000000000000000", None),
    ("SWEMWBS", "7", None),
    ("ONS4", "-0", None),
    ("ONS4", "-0.00000000000000001", "range"),
])
def test_decimal_ranges_are_exact(instrument: str, score: str, rule: str | None) -> None:
    for v in (_validator("sp_wellbeing", WELLBEING), _validator("sp_wellbeing", WELLBEING)):
        _score(v, "SWEMWBS", "21")  # a memoised valid row first: the fast path must agree
        errors = _score(v, instrument, score)
        assert (errors[0][1] if errors else None) == rule, errors


def test_decimal_within_decides_exactly_at_the_bounds() -> None:
    from spw.ingest.validate import decimal_within

    assert decimal_within("35", 7.0, 35.0) and not decimal_within("35.00000000000000001", 7.0, 35.0)
    assert decimal_within("1" * 400, 0, None) and not decimal_within("-" + "1" * 400, 0, None)
    assert decimal_within("0.00000000000000000", 0, 10) and not decimal_within("-0.000000000000000000001", 0, 10)


def test_instrument_range_error_masks_an_nhs_number() -> None:
    errors = _score(_validator("sp_wellbeing", WELLBEING), "ONS4", "0000000019")  # 0000000019 is a valid NHS number
    assert errors == [("score", "range_for", "********** (outside 0 to 10 for instrument ONS4)")]


WORKFORCE = ["pcn_code", "month", "wte", "headcount", "funding"]


@pytest.mark.parametrize("wte,headcount,errors", [
    ("1", "9" * 5000, [("headcount", "range", "*" * 5000)]),  # int() refuses strings over 4300 digits
    ("1", "0" * 5000 + "1", None),  # leading zeros: still the number 1 (PostgreSQL agrees)
    ("1", "-" + "0" * 5000, None),
    ("1", "2147483648", [("headcount", "range", "**********")]),
    ("1." + "1" * 20000, "1", [("wte", "decimal_format", "1." + "*" * 20000)]),
    ("1." + "1" * 16383, "1", None),  # c.NUMERIC_MAX_FRACTION_DIGITS
    ("1" * 140000, "1", [("wte", "range", "*" * 140000)]),
    ("0" * 140000 + "1.5", "1", None),
    ("1" * 131072, "1", None),  # c.NUMERIC_MAX_WHOLE_DIGITS
])
def test_numbers_postgres_cannot_hold_are_row_errors(wte: str, headcount: str, errors: list | None) -> None:
    v = _validator("link_worker_workforce", WORKFORCE)
    assert v.validate(["U12345", "2024-05-01", wte, headcount, "ARRS"])[1] == errors


def test_year_of_birth_with_5000_leading_zeros() -> None:
    v = _validator("patients", ["nhs_number", "practice_code", "year_of_birth", "sex", "registration_start_date"])
    assert v.validate([NHS[1], "A81001", "0" * 5000 + "1960", "1", "2010-01-01"])[1] is None
    assert v.validate([NHS[1], "A81001", "9" * 5000, "1", "2010-01-01"])[1] == [
        ("year_of_birth", "range", "*" * 5000)]


# ---------------------------------------------------------------- pseudonymisation key


@pytest.fixture()
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No key in the environment and an empty state folder; returns where `spw up` keeps the key."""
    monkeypatch.delenv("SPW_PSEUDO_KEY", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_SPW_PSEUDO_KEY", raising=False)
    monkeypatch.setenv("SPW_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "secrets" / "pseudo_key"


def test_a_load_without_a_key_fails_and_creates_none(no_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spw.secrets import MissingPseudonymisationKey, pseudonymisation_key

    monkeypatch.delitem(sys.modules, "airflow.sdk", raising=False)  # not inside Airflow
    with pytest.raises(MissingPseudonymisationKey, match="SPW_PSEUDO_KEY.*spw_pseudo_key.*spw up"):
        pseudonymisation_key()
    with pytest.raises(MissingPseudonymisationKey):
        Pseudonymiser()
    assert not no_key.exists()


def test_key_from_environment_then_local_file(no_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spw.secrets import ensure_pseudonymisation_key, pseudonymisation_key

    monkeypatch.delitem(sys.modules, "airflow.sdk", raising=False)
    ensure_pseudonymisation_key()  # the set-up step (`spw up`) creates it once ...
    local = no_key.read_text().strip()
    assert pseudonymisation_key() == local.encode()
    ensure_pseudonymisation_key()  # ... and keeps it
    assert no_key.read_text().strip() == local
    monkeypatch.setenv("SPW_PSEUDO_KEY", "from-the-environment")
    assert pseudonymisation_key() == b"from-the-environment"


def test_ensure_creates_no_file_when_the_environment_has_the_key(no_key: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from spw.secrets import ensure_pseudonymisation_key

    monkeypatch.setenv("SPW_PSEUDO_KEY", "from-the-environment")
    ensure_pseudonymisation_key()
    assert not no_key.exists()


def test_key_from_airflow_secrets_backend_inside_airflow(no_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside Airflow the Variable spw_pseudo_key (secrets backend, here AIRFLOW_VAR_*) comes after the
    environment and before the local file."""
    pytest.importorskip("airflow.sdk")
    from spw.secrets import ensure_pseudonymisation_key, pseudonymisation_key

    no_key.parent.mkdir(parents=True)
    no_key.write_text("local-file-key\n")
    monkeypatch.setenv("AIRFLOW_VAR_SPW_PSEUDO_KEY", "from-airflow")
    assert pseudonymisation_key() == b"from-airflow"
    monkeypatch.setenv("SPW_PSEUDO_KEY", "from-the-environment")
    assert pseudonymisation_key() == b"from-the-environment"
    monkeypatch.delenv("SPW_PSEUDO_KEY")
    monkeypatch.delenv("AIRFLOW_VAR_SPW_PSEUDO_KEY")
    assert pseudonymisation_key() == b"local-file-key"
    no_key.unlink()
    monkeypatch.setenv("AIRFLOW_VAR_SPW_PSEUDO_KEY", "from-airflow")
    ensure_pseudonymisation_key()
    assert not no_key.exists()


# ---------------------------------------------------------------- loader (real PostgreSQL)


GP = ["appointment_id", "nhs_number", "practice_code", "appointment_date", "appt_status", "hcp_type", "appt_mode",
      "national_category"]


def _gp(i: int, **over: str) -> list[str]:
    row = dict(zip(GP, [f"EDGE{i}", NHS[i], "A81001", "2024-05-01", "Attended", "GP", "Telephone", "Routine"],
                   strict=True))
    row.update(over)
    return list(row.values())


def test_one_separator_nhs_number_reaches_no_audit_table(conn, tmp_path: Path) -> None:
    n = NHS[50]
    one_space, dotted = f"{n[:3]} {n[3:]}", f"{n[:3]}.{n[3:6]}.{n[6:]}"
    rows = [GP + [one_space], _gp(1, national_category=f"pt {one_space}") + ["x"],
            _gp(2, national_category=f"pt {dotted}") + ["x"], _gp(3, appt_status="bogus") + ["x"]]
    r = load_file(conn, "gp_appointments", write_csv(tmp_path / f"pt {one_space}.csv", rows), "edge", today=TODAY)
    assert r.status == "rejected" and r.rows_rejected == 3
    ledger = conn.execute("select file_name, reason, warnings from audit.file_loads").fetchall()
    rejected = conn.execute("select file_name, column_name, rule, value from audit.rejected_rows "
                            "order by line_number").fetchall()
    assert ledger == [("pt *** *******.csv", "3 of 3 rows (100.0%) broke contract rules, more than the 1% allowed, "
                       "so nothing from the file was loaded; first error at line 2, column national_category: "
                       "nhs_number_in_text (pt *** *******); all row errors are in audit.rejected_rows",
                       "ignored unknown column(s): *** *******")]
    assert [row[1:] for row in rejected] == [("national_category", "nhs_number_in_text", "pt *** *******"),
                                             ("national_category", "nhs_number_in_text", "pt ***.***.****"),
                                             ("appt_status", "code_set", "bogus")]
    for row in ledger + rejected:
        assert n not in _digits(row), row


def test_huge_numbers_are_row_errors_and_the_other_files_load(conn, tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "link_worker_workforce"
    good = [[f"U{10000 + i}", "2024-05-01", "1.5", "2", "ARRS"] for i in range(100)]
    bad = {"a_headcount.csv": ["U99999", "2024-05-01", "1", "9" * 5000, ""],
           "b_wte_fraction.csv": ["U99999", "2024-05-01", "1." + "1" * 20000, "1", ""],
           "c_wte_whole.csv": ["U99999", "2024-05-01", "1" * 140000, "1", ""]}
    for name, row in bad.items():
        write_csv(folder / name, [WORKFORCE, *good[:50], row, *good[50:]])
    write_csv(folder / "d_fine.csv", [WORKFORCE, ["U20000", "2024-06-01", "0" * 5000 + "2.25", "0" * 5000 + "3", ""]])

    results = load_source(None, tmp_path / "landing", "link_worker_workforce", "edge", today=TODAY)

    assert [(r.file_name, r.status, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("a_headcount.csv", "loaded", 100, 1), ("b_wte_fraction.csv", "loaded", 100, 1),
        ("c_wte_whole.csv", "loaded", 100, 1), ("d_fine.csv", "loaded", 1, 0)]
    rules = conn.execute("select file_name, line_number, column_name, rule, length(value) from audit.rejected_rows "
                         "order by file_name").fetchall()
    assert rules == [("a_headcount.csv", 52, "headcount", "range", 5000),
                     ("b_wte_fraction.csv", 52, "wte", "decimal_format", 20002),
                     ("c_wte_whole.csv", 52, "wte", "range", 140000)]
    assert conn.execute("select wte::text, headcount from raw.link_worker_workforce where pcn_code = 'U20000'"
                        ).fetchone() == ("2.25", 3)
