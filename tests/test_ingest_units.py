"""Ingestion building blocks without a database: NHS numbers, masking, header plan, byte scan."""

from __future__ import annotations

import csv
import hashlib
import hmac
from datetime import date
from pathlib import Path

import pytest

from spw.ingest import contract as c
from spw.ingest.airflow_tasks import deadlines_enabled, expected_period, missing_monthly_deliveries
from spw.ingest.copy_stream import csv_field_limit, quoted_record
from spw.ingest.loader import delivery_files
from spw.ingest.pseudonymise import (
    Pseudonymiser,
    contains_nhs_number,
    mask_identity_value,
    mask_nhs,
    nhs_check_digit,
    nhs_number_error,
    nhs_number_from,
    nhs_numbers_in,
)
from spw.ingest.scan import CHUNK, MAX_FIELD_CHARS, MAX_LINE_BYTES, scan_file
from spw.ingest.validate import (
    RowValidator,
    StructuralError,
    plan_header,
    scanned_for_nhs_numbers,
    valid_dates,
    valid_plain_numbers,
)


@pytest.mark.parametrize("value,error", [
    ("9434765919", None),
    ("9434765918", "nhs_number_check_digit"),
    ("1111111111", "nhs_number_all_one_digit"),  # passes modulus 11, still not a number
    ("0000000000", "nhs_number_all_one_digit"),
    ("943476591", "nhs_number_format"),
    ("94347659190", "nhs_number_format"),
    ("943 476 5919", "nhs_number_format"),
    ("٩٤٣٤٧٦٥٩١٩", "nhs_number_format"),  # Arabic-Indic digits are not ASCII digits
    ("", "nhs_number_format"),
])
def test_nhs_number_rules(value: str, error: str | None) -> None:
    assert nhs_number_error(value) == error


def test_check_digit_ten_means_no_valid_number() -> None:
    # 000000060: weights give 6*3 = 18, 11 - 18 % 11 = 4; find a nine-digit prefix whose check is 10.
    prefixes = [f"{n:09d}" for n in range(100_000_000, 100_000_200)]
    tens = [p for p in prefixes if nhs_check_digit(p) is None]
    assert tens and all(nhs_number_from(int(p)) is None for p in tens)
    assert all(nhs_number_error(p + str(d)) is not None for p in tens for d in range(10))


def test_masking_and_detection() -> None:
    assert mask_nhs("see 9434765919, 943 476 5919 and 943-476-5919") == "see **********, *** *** **** and ***-***-****"
    assert mask_nhs("19434765919 and 943476591 (9 digits)") == "*********** and 943476591 (9 digits)"
    assert contains_nhs_number("ring 943 476 5919") and not contains_nhs_number("ring 943 476 5918")
    assert mask_nhs(None) is None


def test_pseudonymiser_hmac_and_prefix() -> None:
    p = Pseudonymiser(b"k")
    assert p.nhs_number("9434765919") == hmac.new(b"k", b"9434765919", hashlib.sha256).hexdigest()
    assert p.pseudonym("9434765919") == hmac.new(b"k", b"pseudo:9434765919", hashlib.sha256).hexdigest()
    assert Pseudonymiser(b"other").nhs_number("9434765919") != p.nhs_number("9434765919")
    for key in (b"", b"x" * 64, b"y" * 65, "clé".encode() * 40):  # block-size edge cases, long keys
        assert Pseudonymiser(key).nhs_number("9434765919") == hmac.new(key, b"9434765919",
                                                                      hashlib.sha256).hexdigest()
    small = Pseudonymiser(b"k", cache_size=2)
    for n in ("a", "b", "c"):
        small.pseudonym(n * 8)
    assert len(small.pseudo_cache) <= 2


def test_header_plan() -> None:
    src = c.get_source("sp_referrals")
    plan = plan_header(src, [" Referral_ID", "NHS_NUMBER ", "referral_date", "referral_source", "outcome", "Notes", ""])
    assert plan.identity == "nhs_number" and plan.identity_index == 1
    assert plan.positions["referral_id"] == 0
    assert plan.warnings == ["ignored unknown column(s): notes, <unnamed field 7>"]
    with pytest.raises(StructuralError, match="missing required column\\(s\\): outcome"):
        plan_header(src, ["referral_id", "nhs_number", "referral_date", "referral_source"])
    with pytest.raises(StructuralError, match="appears twice"):
        plan_header(src, ["referral_id", "REFERRAL_ID", "nhs_number", "referral_date", "referral_source", "outcome"])
    # Non-person sources ignore identity columns like any unknown column.
    wf = plan_header(c.get_source("link_worker_workforce"), ["pcn_code", "month", "wte", "nhs_number"])
    assert wf.identity is None and wf.warnings == ["ignored unknown column(s): nhs_number"]
    # A header with another separator names the separator; an unrelated first line does not.
    with pytest.raises(StructuralError, match="separated by tabs: the contract's separator is a comma"):
        plan_header(src, ["referral_id\tnhs_number\treferral_date\treferral_source\toutcome"])
    with pytest.raises(StructuralError, match=r"\(expected e\.g\. [^)]*\)$"):
        plan_header(src, ["id;name", "date"])


def test_valid_dates_bounds() -> None:
    days = valid_dates(date(2024, 3, 1))
    assert "1900-01-01" in days and "2024-02-29" in days and "2024-03-01" in days
    assert "1899-12-31" not in days and "2024-03-02" not in days and "2023-02-29" not in days


def test_row_validator_fast_and_slow_paths_agree() -> None:
    src = c.get_source("patients")
    header = ["nhs_number", "practice_code", "year_of_birth", "sex", "registration_start_date", "imd_decile"]
    v = RowValidator(plan_header(src, header), date(2025, 1, 1), Pseudonymiser(b"k"))
    good = ["9434765919", "A81001", "1950", "2", "2010-01-01", ""]
    first, second = v.validate(list(good)), v.validate(list(good))  # slow, then memoised fast path
    assert first == second and first[1] is None and first[0][0] == Pseudonymiser(b"k").nhs_number("9434765919")
    # The file's column order (patient_key in the identity's place); an empty field is "" (NULL in
    # the COPY stream).
    assert v.stage_columns == ["patient_key", "practice_code", "year_of_birth", "sex", "registration_start_date",
                               "imd_decile"]
    assert first[0][1:] == ["A81001", "1950", "2", "2010-01-01", ""]
    bad = ["9434765919", "A81001", "1950", "2", "2010-01-01", "0"]
    assert v.validate(bad) == (None, [("imd_decile", "range", "0")])
    assert v.validate(["9434765919", "", "1950", "2", "2010-01-01", ""]) == (
        None, [("practice_code", "required", None)])


def _validator(source: str, header: list[str], pseudonymiser: Pseudonymiser | None = None) -> RowValidator:
    return RowValidator(plan_header(c.get_source(source), header), date(2025, 1, 1),
                        pseudonymiser or Pseudonymiser(b"k"))


def test_record_key_of_rejected_rows() -> None:
    """The key a rejected row would have in raw (compared with the file's other rows), whether a valid
    row could hold it, or None when it cannot be read."""
    ref = _validator("sp_referrals", ["referral_id", "nhs_number", "referral_date", "referral_source", "outcome"])
    assert ref.record_key(["R5", "9434765919", "2024-03-10", "gp", "bogus"]) == (["R5"], True)
    assert ref.record_key(["R5", "9434765919", "2024-03-10", "gp"]) is None  # wrong number of fields
    assert ref.record_key(["", "9434765919", "2024-03-10", "gp", "bogus"]) is None  # required part empty
    # The row's own NHS number as the key never leaves the loader in clear; a keyed hash stands for it.
    own = ref.record_key(["9434765919", "9434765919", "2024-03-10", "gp", "engaged"])
    assert own is not None and own[1] is False and "9434765919" not in own[0][0]
    assert own == ref.record_key(["9434765919", "9434765919", "2024-03-11", "gp", "x"])
    wf = _validator("link_worker_workforce", ["pcn_code", "month", "wte", "funding"])
    assert wf.record_key(["U12345", "2024-05-01", "-1", ""]) == (["U12345", "2024-05-01", "ARRS"], True)
    assert wf.record_key(["U12345", "2024-05-15", "1", "arrs"]) == (["U12345", "2024-05-15", "arrs"], False)
    absent = _validator("link_worker_workforce", ["pcn_code", "month", "wte"])
    assert absent.record_key(["U12345", "2024-05-01", "x"]) == (["U12345", "2024-05-01", "ARRS"], True)
    practices = _validator("practices", ["practice_code", "pcn_code", "sub_icb_code", "icb_code", "region_code",
                                         "list_size", "effective_from"])
    assert practices.record_key(["A81001", "U1", "00K", "QHM", "Y63", "-1", ""]) == (["A81001", None], True)
    assert practices.record_key(["A81001", "U1", "00K", "QHM", "Y63", "-1", "2024-02-30"]) == (
        ["A81001", "2024-02-30"], False)
    p = Pseudonymiser(b"k")
    pat = _validator("patients", ["nhs_number", "practice_code", "year_of_birth", "sex", "registration_start_date"], p)
    assert pat.record_key(["9434765919", "A81001", "1950", "Q", "2010-01-01"]) == (
        [Pseudonymiser(b"k").nhs_number("9434765919")], True)
    bad = pat.record_key(["9434765918", "A81001", "1950", "1", "2010-01-01"])  # invalid: hashed, never valid
    assert bad is not None and bad[1] is False and bad[0][0] != Pseudonymiser(b"k").nhs_number("9434765918")
    assert "9434765918" not in p.nhs_cache  # the cache holds valid identities only
    assert pat.record_key(["", "A81001", "1950", "1", "2010-01-01"]) is None


def test_quoted_field_limit_is_the_loaders_own() -> None:
    """A quoted field loads up to MAX_FIELD_CHARS (Python csv alone stops at 131072); one longer,
    which only a field spanning lines can be (a line is at most MAX_LINE_BYTES), gets its own reason."""
    assert MAX_FIELD_CHARS >= MAX_LINE_BYTES > csv.field_size_limit()
    default = csv.field_size_limit()
    with csv_field_limit():
        rec, used = quoted_record('1,"' + "x" * 200_000 + '"\n', iter(()), 2)
        assert rec == ["1", "x" * 200_000] and used == 1
        half = "y" * (MAX_FIELD_CHARS // 2) + "\n"
        with pytest.raises(StructuralError) as err:
            quoted_record('1,"' + half, iter([half, half + '"\n']), 7)
    assert str(err.value) == (f"the record starting at line 7 has a quoted field longer than {MAX_FIELD_CHARS} "
                              "characters, the loader's limit for one field (an implementation limit, see the "
                              "data contract)")
    assert csv.field_size_limit() == default  # the process-wide setting is given back


def test_scan_file_faults(tmp_path: Path) -> None:
    ok = tmp_path / "ok.csv"
    # A two-byte character straddling the scanner's chunk boundary is not an error.
    ok.write_bytes(b"a,b\n" + b"x" * (CHUNK - 5) + "é".encode() + b"\n")
    assert scan_file(ok).fault is None
    # A character cut short at the chunk boundary, followed by an all-ASCII chunk, is one.
    cut = tmp_path / "cut.csv"
    cut.write_bytes(b"a,b\n1,2\n" + b"x" * (CHUNK - 9) + "é".encode()[:1] + b"x\n" * 10)
    assert scan_file(cut).fault == ("the file is not UTF-8 text: undecodable byte 0xc3 at line 3; "
                                    "save it as UTF-8 (e.g. 'CSV UTF-8') and deliver it again")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"a,b\n" + b"x\n" * CHUNK + "é".encode("latin-1") + b"\n")
    assert "undecodable byte 0xe9 at line" in scan_file(latin).fault
    trunc = tmp_path / "trunc.csv"
    trunc.write_bytes(b"a,b\n1,2\n3," + "é".encode()[:1])
    assert "line 3" in scan_file(trunc).fault
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"a,b\n1,2\n3,\x00\n")
    assert scan_file(nul).fault == "not a CSV text file: binary data (a NUL byte) at line 3"
    long = tmp_path / "long.csv"
    long.write_bytes(b"a,b\n1,2\n" + b"y" * (MAX_LINE_BYTES + 10) + b"\n")
    assert scan_file(long).fault == (f"line 3 is longer than {MAX_LINE_BYTES} bytes, the loader's limit for one "
                                     "line (an implementation limit, see the data contract)")
    xlsx = tmp_path / "book.csv"
    xlsx.write_bytes(b"PK\x03\x04" + b"\x14" * 40)
    assert "Excel" in scan_file(xlsx).fault


def test_delivery_files_and_monthly_watch(tmp_path: Path) -> None:
    folder = tmp_path / "gp_appointments"
    folder.mkdir()
    for name in ("2024-10.csv", "2024-02.csv", "2024-02_resubmission.csv", "readme.txt", ".~lock.csv"):
        (folder / name).write_text("x\n")
    assert [p.name for p in delivery_files(folder)] == ["2024-02.csv", "2024-02_resubmission.csv", "2024-10.csv"]
    assert expected_period(date(2025, 1, 3)) == "2024-12"
    assert expected_period(date(2025, 6, 30)) == "2025-05"
    missing = missing_monthly_deliveries(tmp_path, "2024-10")
    assert "gp_appointments" not in missing and "ae_attendances" in missing


def test_deadlines_left_off_only_under_dags_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPW_AIRFLOW_DEADLINES", raising=False)
    assert deadlines_enabled(["/venv/bin/airflow", "scheduler"])
    assert deadlines_enabled(["/venv/bin/airflow", "dag-processor"])
    assert not deadlines_enabled(["/venv/bin/airflow", "dags", "test", "spw_ingest"])
    monkeypatch.setenv("SPW_AIRFLOW_DEADLINES", "1")
    assert deadlines_enabled(["/venv/bin/airflow", "dags", "test", "spw_ingest"])


def test_block_path_finds_the_rows_nhs_number_in_a_learnt_column() -> None:
    """A column checked against a memo of learnt values (here a SNOMED pattern, which a 10-digit
    number passes) is compared with the row's NHS number only once a valid NHS number is among its
    learnt values: a block with the row's NHS number in that column goes to the row path, which
    rejects it, and before that valid blocks skip the comparison."""
    header = ["ec_ident", "nhs_number", "provider_code", "arrival_date", "ec_department_type",
              "discharge_destination_snomed"]
    v = _validator("ae_attendances", header)
    step = len(header) + 1

    def flat(*rows: list[str]) -> list[str]:
        out: list[str] = []
        for r in rows:
            out += [*r, "\n"]
        return out[:-1]

    ok = ["E1", "9434765919", "RX1", "2024-01-02", "01", "306689006"]
    assert v.validate_block(flat(ok, [*ok[:5], "306706006"]), step) is not None
    snomed = header.index("discharge_destination_snomed")
    assert snomed in v._clear_learnt and snomed not in v._memo_has_nhs  # nothing NHS-like learnt yet
    own = ["E2", "9434765919", "RX1", "2024-01-02", "01", "9434765919"]
    assert v.validate_block(flat(ok, own), step) is None
    assert snomed in v._memo_has_nhs
    assert v.validate(own)[1] == [("discharge_destination_snomed", c.RULE_NHS_IN_TEXT, "**********")]
    # Another valid NHS number run together in that column: held back (a suspect) until the
    # delivery's patients are known; it loads unless it is one of theirs (copy_stream, held).
    other = ["E3", "9434765919", "RX1", "2024-01-02", "01", "4010232137"]
    assert v.validate_block(flat(ok, other), step) is not None
    assert v.block_suspects == {1: [("discharge_destination_snomed", "4010232137")]}


# Every form the contract (v2 §3) names, and some it implies: detected, and masked digit by digit.
WRITTEN_FORMS = [
    ("9434765919", "**********", False),
    ("943 476 5919", "*** *** ****", True),
    ("943  476  5919", "***  ***  ****", True),
    ("943 4765919", "*** *******", True),
    ("943/476/5919", "***/***/****", True),
    ("943_476_5919", "***_***_****", True),
    ("943.476.5919", "***.***.****", True),
    ("943-476-5919", "***-***-****", True),
    ("943 - 476 - 5919", "*** - *** - ****", True),
    ("943\u00a0476\u00a05919", "***\u00a0***\u00a0****", True),  # no-break space
    ("943\u202f476\u20095919", "***\u202f***\u2009****", True),  # narrow no-break, thin space
    ("943\u2010476\u20115919", "***\u2010***\u2011****", True),  # hyphen, non-breaking hyphen
    ("943\u2013476\u20145919", "***\u2013***\u2014****", True),  # en dash, em dash
    ("943\u2212476\u20155919", "***\u2212***\u2015****", True),  # minus sign, horizontal bar
    ("\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19", "*" * 10, True),  # full-width digits
]


@pytest.mark.parametrize(("written", "masked", "written_out"), WRITTEN_FORMS)
def test_every_written_form_is_found_and_masked(written: str, masked: str, written_out: bool) -> None:
    text = f"pt {written} seen"
    assert nhs_numbers_in(text) == [("9434765919", written_out)]
    assert contains_nhs_number(text)
    assert mask_nhs(text) == f"pt {masked} seen"
    # The same shape with a wrong check digit is no NHS number, but is masked all the same.
    wrong = written[:-1] + ("8" if written[-1] == "9" else "\uff18")
    assert nhs_numbers_in(wrong) == [] and not any(ch.isdigit() for ch in mask_nhs(wrong))  # type: ignore[union-attr]
    assert mask_identity_value(written) == "".join("*" if ch.isdigit() else ch for ch in written)


def test_detector_boundaries() -> None:
    """Not part of a longer digit run; other groupings are not NHS numbers (phone-like 5-5 or 4-3-3)."""
    assert nhs_numbers_in("19434765919") == [] and nhs_numbers_in("94347659190") == []
    assert nhs_numbers_in("94347 65919") == [] and nhs_numbers_in("9434 765 919") == []
    assert nhs_numbers_in("APT9434765919x") == [("9434765919", False)]
    assert nhs_numbers_in("943 476 5919 and 4010232137") == [("9434765919", True), ("4010232137", False)]
    assert nhs_numbers_in("1111111111") == []  # passes the weighted sum, but one digit repeated


def test_vectorised_check_digit_agrees_with_the_rule() -> None:
    numbers = [f"{n:010d}" for n in range(9_434_760_000, 9_434_770_000, 7)] + ["0000000000", "5555555555"]
    assert valid_plain_numbers(numbers) == [n for n in numbers if nhs_number_error(n) is None]
    assert 100 < len(valid_plain_numbers(numbers)) < 160  # about 1 in 11 of 1,430


def test_columns_scanned_for_nhs_numbers() -> None:
    scanned = {s: [col.name for col in c.get_source(s).columns if scanned_for_nhs_numbers(col)]
               for s in c.SOURCE_NAMES}
    assert scanned == {
        "practices": [], "link_worker_workforce": [], "patients": [],
        "sp_referrals": ["referral_id", "pcn_code", "link_worker_id"],
        "sp_wellbeing": ["assessment_id", "referral_id"],
        "gp_appointments": ["appointment_id"],
        "ae_attendances": ["ec_ident", "discharge_destination_snomed"],
        "inpatient_admissions": ["spell_id"],
    }
    free_text = {s: [col.name for col in c.get_source(s).columns if col.free_text] for s in c.SOURCE_NAMES}
    assert free_text["practices"] == ["practice_name", "pcn_name", "sub_icb_name", "icb_name", "region_name"]
    assert free_text["gp_appointments"] == ["national_category"]


@pytest.mark.parametrize("identity", ["nhs_number", "pseudo_nhs_number"])
def test_identifier_holding_an_nhs_number(identity: str) -> None:
    """Written out, or the row's own number: a row error with the value masked. Run together and
    another number: a suspect (held until the delivery's patients are known), not an error."""
    header = ["appointment_id", identity, "practice_code", "appointment_date", "appt_status", "hcp_type",
              "appt_mode", "national_category"]
    v = _validator("gp_appointments", header)
    me = "9434765919" if identity == "nhs_number" else "PSEUDO0000001"
    row = ["A1", me, "A81001", "2024-01-01", "Attended", "GP", "Telephone", "General"]

    def check(appointment_id: str = "A1", category: str = "General"):
        rec = list(row)
        rec[0], rec[7] = appointment_id, category
        out, errors = v.validate(rec)
        suspects, v.suspects = v.suspects, []
        return errors, suspects

    assert check() == (None, [])
    for written, masked in [("943 476 5919", "*** *** ****"), ("943/476/5919", "***/***/****"),
                            ("A-943\u2013476\u20135919", "A-***\u2013***\u2013****")]:
        assert check(written) == ([("appointment_id", c.RULE_NHS_IN_TEXT, masked)], [])
    if identity == "nhs_number":
        assert check("9434765919") == ([("appointment_id", c.RULE_NHS_IN_TEXT, "**********")], [])
        assert check("APT9434765919") == ([("appointment_id", c.RULE_NHS_IN_TEXT, "APT**********")], [])
    assert check("4010232137") == (None, [("appointment_id", "4010232137")])
    assert check("APT4010232137") == (None, [("appointment_id", "4010232137")])
    assert check("4010232138") == (None, [])  # fails the check digit: an ordinary identifier
    assert check(category="pt 4010232137") == ([("national_category", c.RULE_NHS_IN_TEXT, "pt **********")], [])
    assert check(category="pt 943\u00a0476\u00a05919") == (
        [("national_category", c.RULE_NHS_IN_TEXT, "pt ***\u00a0***\u00a0****")], [])


def test_a_rejected_rows_suspects_are_not_the_next_rows() -> None:
    """A row holding another valid NHS number in an identifier and a bad code is rejected for the
    code; the next (valid) row must not inherit its suspect."""
    from io import StringIO

    from spw.ingest.copy_stream import Parse, RowStream
    from spw.ingest.rejects import Rejects

    header = ["appointment_id", "nhs_number", "practice_code", "appointment_date", "appt_status", "hcp_type",
              "appt_mode"]
    v = _validator("gp_appointments", header)
    sent: list[str] = []

    class Copy:
        def write(self, text: str) -> None:
            sent.append(text)

    rejects = Rejects("gp_appointments", "f.csv", "0" * 64)
    try:
        stream = RowStream(Copy(), v, StringIO(), 1, None, rejects, Parse())  # type: ignore[arg-type]
        stream._row(2, ["A2", "9434765919", "A81001", "2024-01-01", "Attended", "GP", "Telephone"], True)
        stream._row(3, ["4010232137", "9434765919", "A81001", "2024-01-01", "Bogus", "GP", "Telephone"], True)
        stream._row(4, ["A4", "9434765919", "A81001", "2024-01-01", "Attended", "GP", "Telephone"], True)  # fast path
        stream._flush()
    finally:
        rejects.close()
    assert (stream.rejected, stream.loaded, stream.held.rows) == (1, 2, [])
    assert "".join(sent).startswith("A2\t") and "\nA4\t" in "".join(sent)
