"""Table-driven: every file of tests/data/bad_files/ loaded against a real warehouse, exact outcomes.

Each case starts from a warehouse holding a small valid baseline delivery of the case's source; after
the load the ledger row, the rejected rows and the raw tables are compared with what the contract
says must happen (a rejected file leaves raw exactly as it was).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from ingest_helpers import (
    BASE_NHS,
    baseline_rows,
    raw_checksums,
    recreate_warehouse,
    reset_ingest_tables,
    table_checksum,
    write_csv,
)

from spw.ingest.loader import load_file
from spw.ingest.pseudonymise import contains_nhs_number

CORPUS = Path(__file__).parent / "data" / "bad_files"
TODAY = date(2025, 6, 30)
THRESHOLD = "broke contract rules, more than the 1% allowed, so nothing from the file was loaded"


@dataclass(frozen=True)
class Case:
    name: str
    status: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    reason: tuple[str, ...] = ()  # substrings the reason must contain (names the line/column)
    errors: tuple[tuple[int, str | None, str, str | None], ...] = ()  # line, column, rule, masked value
    warnings: tuple[str, ...] = ()
    source: str = "gp_appointments"
    stored_name: str | None = None  # the file name as the ledger and raw hold it, when masked

    @property
    def file_name(self) -> str:
        return self.stored_name or f"{self.name}.csv"


CASES = [
    Case("latin1_encoding", "rejected", reason=("not UTF-8", "byte 0xe9 at line 3")),
    Case("utf16_encoding", "rejected", reason=("not UTF-8", "UTF-16", "line 1")),
    Case("bom_crlf_valid", "loaded", 3, 3),
    Case("quoting_valid", "loaded", 3, 3),
    Case("quoting_line_numbers", "rejected", 2, 0, 1, ("1 of 2 rows", THRESHOLD, "line 5, column appt_status"),
         ((5, "appt_status", "code_set", "Attended?"),)),
    Case("unterminated_quote", "rejected", reason=("malformed CSV at line 5",)),
    Case("missing_required_column", "rejected", reason=("missing required column(s): appt_mode",)),
    Case("extra_columns", "loaded", 3, 3, warnings=("ignored unknown column(s): comments, source system",)),
    Case("misnamed_column", "rejected", reason=("missing required column(s): appointment_date",)),
    Case("header_case_order", "loaded", 3, 3),
    Case("duplicate_header_column", "rejected", reason=("column appt_status appears twice",)),
    Case("both_identity_columns", "rejected", reason=("both of the identity columns",)),
    Case("neither_identity_column", "rejected", reason=("neither of the identity columns",)),
    Case("no_header", "rejected", reason=("no header row", "line 1")),
    Case("not_csv_json", "rejected", reason=("no header row", "line 1")),
    Case("semicolon_separated", "rejected",
         reason=("no header row", "separated by semicolons: the contract's separator is a comma")),
    Case("binary_file", "rejected", reason=("not a CSV text file", "line 1")),
    Case("empty_0_bytes", "rejected", reason=("empty (0 bytes)",)),
    Case("header_only", "loaded"),
    Case("blank_lines", "loaded", 3, 3, warnings=("skipped 2 blank line(s)",)),
    Case("invalid_check_digit", "loaded", 101, 100, 1,
         errors=((12, "nhs_number", "nhs_number_check_digit", "**********"),)),
    Case("all_one_digit_nhs", "loaded", 101, 100, 1,
         errors=((52, "nhs_number", "nhs_number_all_one_digit", "**********"),)),
    Case("nhs_number_in_free_text", "loaded", 101, 100, 1,
         errors=((7, "national_category", "nhs_number_in_text", "pt *** *** **** called"),)),
    Case("nhs_number_as_identifier", "loaded", 101, 100, 1,
         errors=((32, "appointment_id", "nhs_number_in_text", "**********"),)),
    Case("nhs_number_one_separator", "loaded", 101, 100, 1,
         errors=((7, "national_category", "nhs_number_in_text", "pt *** ******* called"),)),
    Case("nhs_number_dotted", "loaded", 101, 100, 1,
         errors=((7, "national_category", "nhs_number_in_text", "pt ***.***.**** called"),)),
    Case("pseudo_too_short", "rejected", 2, 0, 1, ("1 of 2 rows", "line 3, column pseudo_nhs_number"),
         ((3, "pseudo_nhs_number", "pseudo_nhs_number_format", "Ab3_x9"),)),
    Case("pseudo_bad_characters", "rejected", 2, 0, 1, ("line 2, column pseudo_nhs_number",),
         ((2, "pseudo_nhs_number", "pseudo_nhs_number_format", "abc$defgh1"),)),
    Case("bad_dates", "rejected", 3, 0, 2, ("2 of 3 rows", "line 2, column appointment_date: date_format"),
         ((2, "appointment_date", "date_format", "2024-02-30"), (3, "appointment_date", "date_format", "05/03/2024"))),
    Case("future_date", "loaded", 101, 100, 1, errors=((22, "appointment_date", "date_range", "2025-07-01"),)),
    Case("date_before_1900", "rejected", 3, 0, 1, ("line 2, column appointment_date: date_range",),
         ((2, "appointment_date", "date_range", "1899-12-31"),)),
    Case("code_outside_set", "rejected", 3, 0, 2, ("line 2, column appt_status: code_set",),
         ((2, "appt_status", "code_set", "attended"), (3, "appt_mode", "code_set", "Face to Face"),
          (3, "time_between_book_and_appt", "code_set", "8 to 14 Days"))),
    Case("duplicate_keys", "rejected", 3, 0, 0, ("duplicate record key (appointment_id)", "APT000001",
                                                 "lines 2, 4")),
    Case("short_row", "rejected", 3, 0, 1, ("line 3: field_count",),
         ((3, None, "field_count", "7 fields, header has 9"),)),
    Case("long_row", "rejected", 3, 0, 1, ("line 3: field_count",),
         ((3, None, "field_count", "11 fields, header has 9"),)),
    Case("over_threshold", "rejected", 102, 0, 2, ("2 of 102 rows (2.0%)", THRESHOLD, "line 102, column appt_mode"),
         ((102, "appt_mode", "code_set", "Fax"), (103, "practice_code", "pattern", "a81001"))),
    Case("under_threshold", "loaded", 101, 100, 1, errors=((102, "appt_mode", "code_set", "Fax"),)),
    Case("patients_out_of_range", "rejected", 4, 0, 3, ("3 of 4 rows", "line 2, column year_of_birth: range"),
         ((2, "year_of_birth", "range", "1899"), (2, "imd_decile", "range", "11"), (2, "ltc_count", "range", "31"),
          (3, "year_of_birth", "range", "2026"), (3, "imd_decile", "range", "0"),
          (4, "ethnic_category", "code_set", "I"), (4, "lsoa_code", "pattern", "W01000001")), source="patients"),
    Case("patients_order_rule", "rejected", 2, 0, 1, ("line 2, column registration_end_date: order",),
         ((2, "registration_end_date", "order",
           "registration_end_date 2020-02-29 is before registration_start_date 2020-03-01"),), source="patients"),
    Case("patients_duplicate_patient", "rejected", 3, 0, 0, ("duplicate record key (patient_key)", "lines 2, 4"),
         source="patients"),
    Case("referrals_order_and_lists", "rejected", 3, 0, 2, ("line 2, column first_contact_date: order",),
         ((2, "first_contact_date", "order", "first_contact_date 2024-03-09 is before referral_date 2024-03-10"),
          (3, "referral_reasons", "code_set", "loneliness_isolation;;housing"), (3, "contacts_count", "range", "201"),
          (3, "activities", "code_set", "arts;gardening"),
          (3, "discharge_date", "order", "discharge_date 2024-03-01 is before referral_date 2024-03-10")),
         source="sp_referrals"),
    Case("workforce_month_and_funding", "rejected", 4, 0, 2, ("line 4, column month: first_of_month",),
         ((4, "month", "first_of_month", "2024-05-15"), (5, "wte", "range", "-0.5"),
          (5, "funding", "code_set", "arrs")),
         source="link_worker_workforce"),
    Case("workforce_funding_default", "loaded", 3, 3, source="link_worker_workforce"),
    Case("workforce_funding_duplicate", "rejected", 2, 0, 0,
         ("duplicate record key (pcn_code, month, funding)", "funding=ARRS", "lines 2, 3"),
         source="link_worker_workforce"),
    Case("wellbeing_instrument_rules", "rejected", 6, 0, 4, ("line 3, column item: code_set_for",),
         ((3, "item", "code_set_for", "total (not an item of instrument ONS4)"),
          (4, "score", "range_for", "36 (outside 7 to 35 for instrument SWEMWBS)"),
          (5, "score", "range_for", "13.5 (outside 14 to 70 for instrument WEMWBS)"),
          (7, "assessment_type", "code_set", "follow-up"), (7, "score", "decimal_format", "seven")),
         source="sp_wellbeing"),
    # Exact comparison: float() would round each of these onto the bound. Runs of 10+ digits are masked.
    Case("wellbeing_exact_bounds", "rejected", 5, 0, 4, ("4 of 5 rows", "line 2, column score: range_for"),
         ((2, "score", "range_for", "35.***************** (outside 7 to 35 for instrument SWEMWBS)"),
          (3, "score", "range_for", "10.**************** (outside 0 to 10 for instrument ONS4)"),
          (4, "score", "range_for", "********** (outside 0 to 10 for instrument ONS4)"),
          (5, "score", "range_for", "6.***************** (outside 7 to 35 for instrument SWEMWBS)")),
         source="sp_wellbeing"),
    Case("workforce_huge_numbers", "rejected", 3, 0, 2, ("2 of 3 rows", "line 2, column headcount: range"),
         ((2, "headcount", "range", "*" * 5000), (3, "wte", "decimal_format", "1." + "*" * 16384)),
         source="link_worker_workforce"),
    Case("practices_duplicate_null_key", "rejected", 3, 0, 0, ("effective_from=(empty)", "lines 2, 4"),
         source="practices"),
    Case("practices_codes", "rejected", 2, 0, 1, ("line 3, column practice_code: pattern",),
         ((3, "practice_code", "pattern", "A8100"), (3, "pcn_code", "pattern", "U1234"),
          (3, "sub_icb_code", "pattern", "00k"), (3, "icb_code", "pattern", "XHM"),
          (3, "region_code", "code_set", "Y64"), (3, "list_size", "range", "-1")), source="practices"),
    Case("ae_codes", "rejected", 3, 0, 1, ("line 3, column provider_code: pattern",),
         ((3, "provider_code", "pattern", "RX"), (3, "ec_department_type", "code_set", "1"),
          (3, "discharge_destination_snomed", "pattern", "12345")), source="ae_attendances"),
    Case("inpatient_order_rule", "rejected", 3, 0, 2, ("line 2, column discharge_date: order",),
         ((2, "discharge_date", "order", "discharge_date 2024-05-02 is before admission_date 2024-05-03"),
          (3, "admission_method", "code_set", "2E")), source="inpatient_admissions"),
    # The same record key twice rejects the file even when a copy is a rejected row (contract §4); the
    # row errors are still recorded. A row whose key cannot be read takes no part; over the error
    # threshold the file is rejected for its row errors, whatever its keys.
    Case("dupkey_rejected_row", "rejected", 201, 0, 1,
         ("duplicate record key (referral_id): referral_id=R5 appears on lines 6, 102",),
         ((102, "outcome", "code_set", "bogus"),), source="sp_referrals"),
    Case("dupkey_both_rejected", "rejected", 200, 0, 2,
         ("duplicate record key (appointment_id): appointment_id=APT000500 appears on lines 51, 151",),
         ((51, "appt_mode", "code_set", "Fax"), (151, "appt_mode", "code_set", "Fax"))),
    Case("dupkey_practices_null_part", "rejected", 101, 0, 1,
         ("duplicate record key (practice_code, effective_from)", "practice_code=A81003, effective_from=(empty)",
          "lines 4, 52"), ((52, "list_size", "range", "-1"),), source="practices"),
    Case("dupkey_workforce_default", "rejected", 101, 0, 1,
         ("duplicate record key (pcn_code, month, funding)", "pcn_code=U10007, month=2024-05-01, funding=ARRS",
          "lines 9, 92"), ((92, "wte", "range", "-1"),), source="link_worker_workforce"),
    Case("dupkey_patients_rejected_row", "rejected", 101, 0, 1,
         ("duplicate record key (patient_key): the same patient appears on lines 12, 22",),
         ((22, "sex", "code_set", "Q"),), source="patients"),
    Case("dupkey_short_row_takes_no_part", "loaded", 101, 100, 1,
         errors=((62, None, "field_count", "7 fields, header has 9"),)),
    Case("dupkey_over_threshold", "rejected", 3, 0, 1, ("1 of 3 rows", THRESHOLD, "line 4, column appt_mode"),
         ((4, "appt_mode", "code_set", "Fax"),)),
    Case("rejected_row_existing_key", "loaded", 101, 100, 1, errors=((42, "appt_mode", "code_set", "Fax"),)),
    Case("required_key_empty_twice", "loaded", 200, 198, 2,
         errors=((12, "appointment_id", "required", None), (201, "appointment_id", "required", None))),
    # Longer than Python csv's default field limit, within the loader's (docs/data-contract.md §2).
    Case("quoted_field_200k", "loaded", 3, 3),
    # A clear NHS number where none may go (contract §3 v2): an identifier holding the number of a
    # patient of the same delivery (here on a row before that patient's own), each written form in
    # free text, a pseudonym-keyed file, a written-out number in any identifier, a file name.
    Case("nhs_number_other_patient_as_appointment_id", "loaded", 101, 100, 1,
         errors=((32, "appointment_id", "nhs_number_in_text", "**********"),)),
    Case("nhs_number_as_ec_ident", "loaded", 101, 100, 1,
         errors=((22, "ec_ident", "nhs_number_in_text", "X**********"),), source="ae_attendances"),
    Case("nhs_number_as_spell_id", "loaded", 101, 100, 1,
         errors=((72, "spell_id", "nhs_number_in_text", "**********"),), source="inpatient_admissions"),
    Case("nhs_number_as_referral_id", "loaded", 101, 100, 1,
         errors=((5, "referral_id", "nhs_number_in_text", "**********"),), source="sp_referrals"),
    Case("nhs_number_as_link_worker_id", "loaded", 101, 100, 1,
         errors=((62, "link_worker_id", "nhs_number_in_text", "**********"),), source="sp_referrals"),
    Case("nhs_number_as_assessment_id", "loaded", 101, 100, 1,
         errors=((12, "assessment_id", "nhs_number_in_text", "*** *** ****"),), source="sp_wellbeing"),
    Case("nhs_number_slashes", "loaded", 101, 100, 1,
         errors=((7, "national_category", "nhs_number_in_text", "pt ***/***/**** called"),)),
    Case("nhs_number_underscores", "loaded", 101, 100, 1,
         errors=((7, "national_category", "nhs_number_in_text", "pt ***_***_**** called"),)),
    Case("nhs_number_double_spaces", "loaded", 101, 100, 1,
         errors=((7, "national_category", "nhs_number_in_text", "pt ***  ***  **** called"),)),
    Case("nhs_number_nbsp", "loaded", 101, 100, 1,
         errors=((7, "national_category", "nhs_number_in_text", "pt ***\u00a0***\u00a0**** called"),)),
    Case("nhs_number_en_dash", "loaded", 101, 100, 1,
         errors=((7, "national_category", "nhs_number_in_text", "pt ***\u2013***\u2013**** called"),)),
    Case("pseudo_keyed_nhs_number_in_free_text", "loaded", 101, 100, 1,
         errors=((7, "national_category", "nhs_number_in_text", "pt *** *** ****"),)),
    Case("pseudo_keyed_nhs_number_as_appointment_id", "loaded", 101, 100, 1,
         errors=((11, "appointment_id", "nhs_number_in_text", "***-***-****"),)),
    # Ten-digit identifiers of which several pass the check digit, none a patient's: all load.
    Case("genuine_ids_passing_check_digit", "loaded", 101, 101),
    Case("943_476_5919", "loaded", 3, 3, stored_name="***_***_****.csv"),
]


def test_every_corpus_file_has_a_case() -> None:
    files = {p.stem for p in CORPUS.glob("*.csv")}
    assert files == {case.name for case in CASES}
    assert len(CASES) >= 25


@pytest.fixture(scope="module")
def loader_conn(pg_server: str, tmp_path_factory: pytest.TempPathFactory):
    from spw import db

    recreate_warehouse()
    with db.connect("warehouse", "spw_loader") as conn:
        yield conn


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_file(case: Case, loader_conn, tmp_path: Path) -> None:
    conn = loader_conn
    reset_ingest_tables(conn)
    base = load_file(conn, case.source, write_csv(tmp_path / "base.csv", baseline_rows(case.source)), "base",
                     today=TODAY)
    assert base.status == "loaded" and base.rows_loaded == 2
    before = raw_checksums(conn)
    base_rows = table_checksum(conn, f"raw.{case.source}")

    r = load_file(conn, case.source, CORPUS / f"{case.name}.csv", "case", today=TODAY)

    assert (r.status, r.rows_read, r.rows_loaded, r.rows_rejected) == (case.status, case.read, case.loaded,
                                                                       case.rejected), r.summary()
    if case.status == "rejected":
        assert r.reason, "a rejected file needs a reason"
        for part in case.reason:
            assert part in r.reason, r.reason
    else:
        assert r.reason is None
    assert tuple(r.warnings) == case.warnings

    ledger = conn.execute("select source, file_name, sha256, bytes, rows_read, rows_loaded, rows_rejected, status, "
                          "reason, warnings, run_id from audit.file_loads where run_id = 'case'").fetchall()
    size = (CORPUS / f"{case.name}.csv").stat().st_size
    assert ledger == [(case.source, case.file_name, r.sha256, size, case.read, case.loaded, case.rejected,
                       case.status, r.reason, "; ".join(case.warnings) or None, "case")]
    rejected = conn.execute("select source, file_name, sha256, line_number, column_name, rule, value "
                            "from audit.rejected_rows order by id").fetchall()
    assert rejected == [(case.source, case.file_name, r.sha256, *e) for e in case.errors]
    # Every stored text but the sha256 (a hex digest may hold ten digits that pass the check digit).
    for row in [*rejected, *ledger]:
        assert not contains_nhs_number(str([v for v in row if v != r.sha256])), row
    names = conn.execute(f"select distinct file_name from raw.{case.source} where file_sha256 = %s",
                         (r.sha256,)).fetchall()
    assert names == ([(case.file_name,)] if case.loaded else [])

    after = raw_checksums(conn)
    if case.status == "rejected":
        assert after == before, "a rejected file must leave raw exactly as it was"
    else:
        assert {k: v for k, v in after.items() if k != case.source} == {
            k: v for k, v in before.items() if k != case.source}
        assert table_checksum(conn, f"raw.{case.source}", f"file_sha256 = '{base.sha256}'") == base_rows
        assert table_checksum(conn, f"raw.{case.source}", f"file_sha256 = '{r.sha256}'")[0] == case.loaded
        assert after[case.source][0] == 2 + case.loaded


def test_loaded_values(loader_conn, tmp_path: Path) -> None:
    """Quoted fields, reordered headers, BOM and the funding default arrive as the file meant them."""
    conn = loader_conn
    reset_ingest_tables(conn)
    for name in ("quoting_valid", "header_case_order", "bom_crlf_valid"):
        assert load_file(conn, "gp_appointments", CORPUS / f"{name}.csv", "v", today=TODAY).status == "loaded"
    cats = dict(conn.execute("select appointment_id, national_category from raw.gp_appointments "
                             "where file_name = 'quoting_valid.csv'").fetchall())
    # quoting_valid was replaced record by record by the two later files (same keys): latest wins.
    assert cats == {}
    reset_ingest_tables(conn)
    load_file(conn, "gp_appointments", CORPUS / "quoting_valid.csv", "v", today=TODAY)
    cats = dict(conn.execute("select appointment_id, national_category from raw.gp_appointments").fetchall())
    assert cats == {"APT000001": 'Care "plus", extra', "APT000002": "two\nlines", "APT000003": "three\r\nline\nfield"}
    load_file(conn, "gp_appointments", CORPUS / "header_case_order.csv", "v", today=TODAY)
    row = conn.execute("select appointment_date::text, practice_code, time_between_book_and_appt, file_name "
                       "from raw.gp_appointments where appointment_id = 'APT000002'").fetchone()
    assert row == ("2024-05-03", "A81001", "8  to 14 Days", "header_case_order.csv")
    load_file(conn, "link_worker_workforce", CORPUS / "workforce_funding_default.csv", "v", today=TODAY)
    wf = conn.execute("select pcn_code, month::text, wte::text, headcount, funding from raw.link_worker_workforce "
                      "order by 1, 5").fetchall()
    assert wf == [("U12345", "2024-05-01", "2.5", 3, "ARRS"), ("U12345", "2024-05-01", "1.0", 1, "other"),
                  ("U12346", "2024-05-01", "0", None, "ARRS")]


def test_patient_key_is_hmac_of_identity(loader_conn, tmp_path: Path) -> None:
    import hashlib
    import hmac

    from spw.secrets import pseudonymisation_key

    conn = loader_conn
    reset_ingest_tables(conn)
    load_file(conn, "patients", write_csv(tmp_path / "p.csv", baseline_rows("patients", 1)), "k", today=TODAY)
    rows = [["pseudo_nhs_number", "practice_code", "year_of_birth", "sex", "registration_start_date"],
            ["DSCRO_abc-123", "Z90000", "1970", "1", "2015-01-01"]]
    load_file(conn, "patients", write_csv(tmp_path / "q.csv", rows), "k", today=TODAY)
    keys = {k for (k,) in conn.execute("select patient_key from raw.patients")}
    key = pseudonymisation_key()
    assert keys == {hmac.new(key, BASE_NHS[0].encode(), hashlib.sha256).hexdigest(),
                    hmac.new(key, b"pseudo:DSCRO_abc-123", hashlib.sha256).hexdigest()}


@pytest.mark.parametrize("fraction,status", [(0.5, "loaded"), (0.2, "rejected")])
def test_threshold_parameter(loader_conn, fraction: float, status: str) -> None:
    """max_invalid_fraction is honoured: 1 bad row of 3 is within 50% but not within 20%."""
    conn = loader_conn
    reset_ingest_tables(conn)
    r = load_file(conn, "gp_appointments", CORPUS / "date_before_1900.csv", "t", fraction, today=TODAY)
    assert (r.status, r.rows_loaded, r.rows_rejected) == (status, 2 if status == "loaded" else 0, 1)


def test_long_quoted_field_arrives_whole(loader_conn) -> None:
    """A quoted field over Python csv's default limit (131072 characters) loads exactly as written."""
    conn = loader_conn
    reset_ingest_tables(conn)
    r = load_file(conn, "gp_appointments", CORPUS / "quoted_field_200k.csv", "long", today=TODAY)
    assert r.status == "loaded", r.summary()
    value = conn.execute("select national_category from raw.gp_appointments "
                         "where appointment_id = 'APT000002'").fetchone()[0]
    assert value == "a, b " + "x" * 200_000
