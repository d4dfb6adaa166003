"""Writes the bad-file corpus next to this script (deterministic; the files are committed).

    python tests/data/bad_files/make_corpus.py

Each file is named <case>.csv (or .bin-like content under a .csv name); tests/test_ingest_bad_files.py
holds, per case, the source it is loaded as and the exact expected outcome. Load date of the tests:
2025-06-30.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from spw.ingest.pseudonymise import nhs_number_from

HERE = Path(__file__).resolve().parent

NHS = [x for x in (nhs_number_from(n) for n in range(943_476_500, 943_477_500)) if x]
BAD_CHECK = "9434765918"  # 9434765919 is valid; a different last digit is not
GP_HEADER = ["appointment_id", "nhs_number", "practice_code", "appointment_date", "appt_status", "hcp_type",
             "appt_mode", "national_category", "time_between_book_and_appt"]


def gp_row(i: int, **over: str) -> list[str]:
    row = {
        "appointment_id": f"APT{i:06d}", "nhs_number": NHS[i % len(NHS)], "practice_code": "A81001",
        "appointment_date": f"2024-05-{1 + i % 28:02d}", "appt_status": "Attended", "hcp_type": "GP",
        "appt_mode": "Face-to-Face", "national_category": "General Consultation Routine",
        "time_between_book_and_appt": "8  to 14 Days",
    }
    row.update(over)
    return [row[h] if h in row else over[h] for h in GP_HEADER]


def csv_text(rows: list[list[str]], eol: str = "\n") -> str:
    def cell(v: str) -> str:
        if any(ch in v for ch in ',"\n\r'):
            return '"' + v.replace('"', '""') + '"'
        return v

    return "".join(",".join(cell(v) for v in r) + eol for r in rows)


def gp(rows: list[list[str]], header: list[str] | None = None, eol: str = "\n") -> str:
    return csv_text([header or GP_HEADER, *rows], eol)


def write(name: str, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    (HERE / f"{name}.csv").write_bytes(data)


def main() -> None:
    ok3 = [gp_row(i) for i in range(1, 4)]
    # Encodings
    latin = gp([gp_row(1), gp_row(2, national_category="Consultation café")]).encode("latin-1")
    write("latin1_encoding", latin)
    write("utf16_encoding", codecs.BOM_UTF16_LE + gp(ok3).encode("utf-16-le"))
    write("bom_crlf_valid", codecs.BOM_UTF8 + gp(ok3, eol="\r\n").encode())
    # Quoting
    write("quoting_valid", gp([
        gp_row(1, national_category='Care "plus", extra'),
        gp_row(2, national_category="two\nlines"),
        gp_row(3, national_category="three\r\nline\nfield"),
    ], eol="\r\n"))
    write("quoting_line_numbers", gp([
        gp_row(1, national_category="a\nb\nc"),
        gp_row(2, appt_status="Attended?"),
    ]))
    write("unterminated_quote", gp(ok3) + 'APT000009,9434765919,A81001,2024-05-02,Attended,GP,Face-to-Face,"open\n')
    # Columns
    write("missing_required_column", csv_text([[h for h in GP_HEADER if h != "appt_mode"],
                                               *[[v for h, v in zip(GP_HEADER, r, strict=True) if h != "appt_mode"]
                                                 for r in ok3]]))
    write("extra_columns", csv_text([[*GP_HEADER, "comments", "Source System"], *[[*r, "x", "EMIS"] for r in ok3]]))
    write("misnamed_column", gp(ok3, header=[h if h != "appointment_date" else "appt_date" for h in GP_HEADER]))
    reordered = [GP_HEADER[i] for i in (3, 0, 8, 1, 2, 4, 5, 6, 7)]
    write("header_case_order", csv_text([
        [f"  {h.upper() if k % 2 else h.title()} " for k, h in enumerate(reordered)],
        *[[r[GP_HEADER.index(h)] for h in reordered] for r in ok3]]))
    write("duplicate_header_column", gp(ok3, header=[*GP_HEADER[:-1], "appt_status"]))
    write("both_identity_columns", csv_text([[*GP_HEADER, "pseudo_nhs_number"], *[[*r, "PSEUDOabc123"] for r in ok3]]))
    write("neither_identity_column", csv_text([[h for h in GP_HEADER if h != "nhs_number"],
                                              *[[v for h, v in zip(GP_HEADER, r, strict=True) if h != "nhs_number"]
                                                for r in ok3]]))
    write("no_header", csv_text(ok3))
    write("not_csv_json", '{"appointments": [{"id": 1}]}\n')
    write("semicolon_separated", "".join(";".join(r) + "\n" for r in [GP_HEADER, *ok3]))
    write("binary_file", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)))
    write("empty_0_bytes", b"")
    write("header_only", gp([]))
    # Identity values (one bad row in a 101-row file stays under the 1% threshold)
    base = [gp_row(i) for i in range(1, 101)]
    write("invalid_check_digit", gp([*base[:10], gp_row(200, nhs_number=BAD_CHECK), *base[10:]]))
    write("all_one_digit_nhs", gp([*base[:50], gp_row(200, nhs_number="1111111111"), *base[50:]]))
    write("nhs_number_in_free_text", gp([*base[:5], gp_row(200, national_category="pt 943 476 5919 called"),
                                         *base[5:]]))
    write("nhs_number_as_identifier", gp([*base[:30], gp_row(200, appointment_id=NHS[200 % len(NHS)]),
                                          *base[30:]]))
    # Other ways of writing one: a single separator, dots. Detected and masked like `943 476 5919`.
    write("nhs_number_one_separator", gp([*base[:5], gp_row(200, national_category="pt 943 4765919 called"),
                                          *base[5:]]))
    write("nhs_number_dotted", gp([*base[:5], gp_row(200, national_category="pt 943.476.5919 called"), *base[5:]]))
    pseudo_header = ["pseudo_nhs_number" if h == "nhs_number" else h for h in GP_HEADER]
    write("pseudo_too_short", gp([gp_row(1, nhs_number="Ab3_x9-Z"), gp_row(2, nhs_number="Ab3_x9")],
                                 header=pseudo_header))
    write("pseudo_bad_characters", gp([gp_row(1, nhs_number="abc$defgh1"), gp_row(2, nhs_number="valid_PSEUDO-01")],
                                      header=pseudo_header))
    # Dates
    write("bad_dates", gp([gp_row(1, appointment_date="2024-02-30"), gp_row(2, appointment_date="05/03/2024"),
                           gp_row(3)]))
    write("future_date", gp([*base[:20], gp_row(200, appointment_date="2025-07-01"), *base[20:]]))
    write("date_before_1900", gp([gp_row(1, appointment_date="1899-12-31"), gp_row(2), gp_row(3)]))
    # Codes, numbers, rows
    write("code_outside_set", gp([gp_row(1, appt_status="attended"), gp_row(2, appt_mode="Face to Face",
                                  time_between_book_and_appt="8 to 14 Days"), gp_row(3)]))
    write("duplicate_keys", gp([gp_row(1), gp_row(2), gp_row(1, appt_status="DNA")]))
    write("short_row", gp([gp_row(1), gp_row(2)[:-2], gp_row(3)]))
    write("long_row", gp([gp_row(1), [*gp_row(2), "extra", "more"], gp_row(3)]))
    write("blank_lines", gp(ok3[:2]) + "\n\n" + csv_text(ok3[2:]))
    write("over_threshold", gp([*base, gp_row(200, appt_mode="Fax"), gp_row(201, practice_code="a81001")]))
    write("under_threshold", gp([*base, gp_row(200, appt_mode="Fax")]))
    patients = ["nhs_number", "practice_code", "year_of_birth", "sex", "ethnic_category", "lsoa_code", "imd_decile",
                "ltc_count", "registration_start_date", "registration_end_date", "date_of_death"]
    write("patients_out_of_range", csv_text([patients,
        [NHS[1], "A81001", "1899", "1", "A", "E01000001", "11", "31", "2010-01-01", "", ""],
        [NHS[2], "A81001", "2026", "X", "99", "E01000002", "0", "0", "2010-01-01", "", ""],
        [NHS[3], "A81001", "1950", "2", "I", "W01000001", "5", "3", "2010-01-01", "", ""],
        [NHS[4], "A81001", "1950", "2", "", "", "", "", "2010-01-01", "", ""]]))
    write("patients_order_rule", csv_text([patients,
        [NHS[1], "A81001", "1950", "1", "A", "", "", "", "2020-03-01", "2020-02-29", ""],
        [NHS[2], "A81001", "1950", "1", "A", "", "", "", "2020-03-01", "2020-03-01", ""]]))
    write("patients_duplicate_patient", csv_text([patients,
        [NHS[1], "A81001", "1950", "1", "A", "", "", "", "2020-03-01", "", ""],
        [NHS[2], "A81001", "1950", "1", "A", "", "", "", "2020-03-01", "", ""],
        [NHS[1], "B82002", "1950", "1", "A", "", "", "", "2021-03-01", "", ""]]))
    referrals = ["referral_id", "nhs_number", "referral_date", "referral_source", "referring_practice_code",
                 "pcn_code", "link_worker_id", "referral_reasons", "outcome", "first_contact_date", "discharge_date",
                 "contacts_count", "activities"]
    write("referrals_order_and_lists", csv_text([referrals,
        ["R1", NHS[1], "2024-03-10", "gp", "A81001", "U12345", "LW1", "loneliness_isolation;housing", "engaged",
         "2024-03-09", "2024-05-01", "4", "arts;nature"],
        ["R2", NHS[2], "2024-03-10", "gp", "A81001", "U12345", "LW1", "loneliness_isolation;;housing", "engaged",
         "2024-03-12", "2024-03-01", "201", "arts;gardening"],
        ["R3", NHS[3], "2024-03-10", "self", "", "NOT-A-PCN", "", "", "declined", "", "", "", ""]]))
    write("workforce_month_and_funding", csv_text([["pcn_code", "month", "wte", "headcount", "funding"],
        ["U12345", "2024-05-01", "2.5", "3", ""],
        ["U12345", "2024-05-01", "1.0", "1", "other"],
        ["U12345", "2024-05-15", "1.0", "1", "ARRS"],
        ["U12346", "2024-06-01", "-0.5", "1", "arrs"]]))
    write("workforce_funding_default", csv_text([["pcn_code", "month", "wte", "headcount", "funding"],
        ["U12345", "2024-05-01", "2.5", "3", ""],
        ["U12345", "2024-05-01", "1.0", "1", "other"],
        ["U12346", "2024-05-01", "0", "", ""]]))
    # Numbers no PostgreSQL integer/numeric holds (and int() refuses over 4300 digits): row errors.
    write("workforce_huge_numbers", csv_text([["pcn_code", "month", "wte", "headcount", "funding"],
        ["U12345", "2024-05-01", "1", "9" * 5000, "ARRS"],
        ["U12346", "2024-05-01", "1." + "1" * 16384, "1", "ARRS"],
        ["U12347", "2024-05-01", "2", "0" * 5000 + "3", "ARRS"]]))
    write("workforce_funding_duplicate", csv_text([["pcn_code", "month", "wte", "funding"],
        ["U12345", "2024-05-01", "2.5", ""],
        ["U12345", "2024-05-01", "1.0", "ARRS"]]))
    wellbeing = ["assessment_id", "referral_id", "assessment_date", "assessment_type", "instrument", "item", "score"]
    write("wellbeing_instrument_rules", csv_text([wellbeing,
        ["W1", "R1", "2024-03-10", "baseline", "ONS4", "happy", "7"],
        ["W2", "R1", "2024-03-10", "baseline", "ONS4", "total", "7"],
        ["W3", "R1", "2024-03-10", "baseline", "SWEMWBS", "total", "36"],
        ["W4", "R1", "2024-03-10", "baseline", "WEMWBS", "total", "13.5"],
        ["W5", "R1", "2024-03-10", "follow_up", "WEMWBS", "total", "70"],
        ["W6", "R1", "2024-03-10", "follow-up", "SWEMWBS", "total", "seven"]]))
    # Just outside a bound by less than float precision; a score that is also a valid NHS number.
    write("wellbeing_exact_bounds", csv_text([wellbeing,
        ["W1", "R1", "2024-03-10", "baseline", "SWEMWBS", "total", "35.00000000000000001"],
        ["W2", "R1", "2024-03-10", "baseline", "ONS4", "happy", "10.0000000000000001"],
        ["W3", "R1", "2024-03-10", "baseline", "ONS4", "happy", "0000000019"],
        ["W4", "R1", "2024-03-10", "baseline", "SWEMWBS", "total", "6.99999999999999999"],
        ["W5", "R1", "2024-03-10", "baseline", "SWEMWBS", "total", "35.000"]]))
    practices = ["practice_code", "practice_name", "pcn_code", "sub_icb_code", "icb_code", "region_code",
                 "list_size", "effective_from"]
    write("practices_duplicate_null_key", csv_text([practices,
        ["A81001", "The Surgery", "U12345", "00K", "QHM", "Y63", "9000", ""],
        ["A81001", "The Surgery", "U12345", "00K", "QHM", "Y63", "9100", "2024-04-01"],
        ["A81001", "The Surgery (old)", "U12345", "00K", "QHM", "Y63", "8000", ""]]))
    write("practices_codes", csv_text([practices,
        ["A81001", "The Surgery", "U12345", "00K", "QHM", "Y63", "9000", ""],
        ["A8100", "Short code", "U1234", "00k", "XHM", "Y64", "-1", ""]]))
    ae = ["ec_ident", "nhs_number", "provider_code", "arrival_date", "ec_department_type",
          "discharge_destination_snomed"]
    write("ae_codes", csv_text([ae,
        ["E1", NHS[1], "RXX01", "2024-05-01", "01", "306706006"],
        ["E2", NHS[2], "RX", "2024-05-01", "1", "12345"],
        ["E3", NHS[3], "RXX", "2024-05-01", "03", ""]]))
    apc = ["spell_id", "nhs_number", "provider_code", "admission_date", "discharge_date", "admission_method"]
    write("inpatient_order_rule", csv_text([apc,
        ["S1", NHS[1], "RXX01", "2024-05-03", "2024-05-02", "21"],
        ["S2", NHS[2], "RXX01", "2024-05-03", "", "2E"],
        ["S3", NHS[3], "RXX01", "2024-05-03", "2024-05-03", "2A"]]))
    duplicate_key_cases()
    limit_cases()
    nhs_number_cases()


def duplicate_key_cases() -> None:
    """The same record key twice in one file rejects it whether the rows are valid or not (contract §4);
    a row without a readable key (wrong number of fields, a required key part empty) takes no part."""
    referrals = ["referral_id", "nhs_number", "referral_date", "referral_source", "outcome"]

    def referral(rid: str, outcome: str = "engaged") -> list[str]:
        return [rid, NHS[int(rid[1:]) % len(NHS)], "2024-03-10", "gp", outcome]

    # R5 on line 6 (valid) and line 102 (a row error): 1 of 201 rows is within the 1% threshold.
    write("dupkey_rejected_row", csv_text([referrals, *[referral(f"R{i}") for i in range(1, 101)],
                                           referral("R5", outcome="bogus"),
                                           *[referral(f"R{i}") for i in range(101, 201)]]))
    base = [gp_row(i) for i in range(1, 199)]
    twice = gp_row(500, appt_mode="Fax")
    write("dupkey_both_rejected", gp([*base[:49], twice, *base[49:148], twice, *base[148:]]))  # lines 51, 151
    practices = ["practice_code", "pcn_code", "sub_icb_code", "icb_code", "region_code", "list_size", "effective_from"]
    valid = [[f"A{81001 + i}", "U12345", "00K", "QHM", "Y63", "9000", ""] for i in range(100)]
    write("dupkey_practices_null_part", csv_text([practices, *valid[:50],
                                                  ["A81003", "U12345", "00K", "QHM", "Y63", "-1", ""], *valid[50:]]))
    workforce = ["pcn_code", "month", "wte", "funding"]
    valid = [[f"U{10000 + i}", "2024-05-01", "1.5", "ARRS"] for i in range(100)]
    write("dupkey_workforce_default", csv_text([workforce, *valid[:90], ["U10007", "2024-05-01", "-1", ""],
                                                *valid[90:]]))
    patients = ["nhs_number", "practice_code", "year_of_birth", "sex", "registration_start_date"]
    valid = [[NHS[i], "A81001", "1950", "1", "2020-03-01"] for i in range(100)]
    write("dupkey_patients_rejected_row", csv_text([patients, *valid[:20],
                                                    [NHS[10], "A81001", "1950", "Q", "2020-03-01"], *valid[20:]]))
    base = [gp_row(i) for i in range(1, 101)]
    write("dupkey_short_row_takes_no_part", gp([*base[:60], gp_row(1)[:7], *base[60:]]))
    write("dupkey_over_threshold", gp([gp_row(1), gp_row(2), gp_row(1, appt_mode="Fax")]))
    # BASEA0 is the baseline delivery's key (tests/ingest_helpers.py): an older record, not a duplicate.
    write("rejected_row_existing_key", gp([*base[:40], gp_row(600, appointment_id="BASEA0", appt_mode="Fax"),
                                           *base[40:]]))
    base = [gp_row(i) for i in range(1, 199)]
    write("required_key_empty_twice", gp([*base[:10], gp_row(700, appointment_id=""), *base[10:],
                                          gp_row(701, appointment_id="")]))


def limit_cases() -> None:
    """A quoted field longer than Python csv's default limit (131072 characters) is valid RFC 4180 and
    within the loader's own limit (1 MiB): it loads as the same value unquoted does."""
    long = "a, b " + "x" * 200_000
    write("quoted_field_200k", gp([gp_row(1), gp_row(2, national_category=long), gp_row(3)]))


def nhs_number_cases() -> None:
    """A clear NHS number where only a pseudonymised one may go (contract §3, v2): every identifier
    column, every written form, a pseudonym-keyed file, a file name; one bad row in 101 (under the
    threshold) unless said otherwise. NHS[50] is the patient of another row of the same file."""
    base = [gp_row(i) for i in range(1, 101)]
    other = NHS[50]
    # Another patient's number as the identifier, on a row before that patient's own row.
    write("nhs_number_other_patient_as_appointment_id", gp([*base[:30], gp_row(200, appointment_id=other),
                                                            *base[30:]]))
    for form, written in (("slashes", "943/476/5919"), ("underscores", "943_476_5919"),
                          ("double_spaces", "943  476  5919"), ("nbsp", "943\u00a0476\u00a05919"),
                          ("en_dash", "943\u2013476\u20135919")):
        write(f"nhs_number_{form}", gp([*base[:5], gp_row(200, national_category=f"pt {written} called"),
                                        *base[5:]]))
    pseudo_header = ["pseudo_nhs_number" if h == "nhs_number" else h for h in GP_HEADER]
    pseudo = [gp_row(i, nhs_number=f"PSEUDO{i:08d}") for i in range(1, 101)]
    write("pseudo_keyed_nhs_number_in_free_text", gp([*pseudo[:5], gp_row(200, nhs_number="PSEUDO00000200",
                                                                          national_category="pt 943 476 5919"),
                                                      *pseudo[5:]], header=pseudo_header))
    # Written out, a valid NHS number is an error in any identifier, whoever's it is.
    write("pseudo_keyed_nhs_number_as_appointment_id", gp([*pseudo[:9], gp_row(200, nhs_number="PSEUDO00000200",
                                                                               appointment_id="943-476-5919"),
                                                           *pseudo[9:]], header=pseudo_header))
    # Ten-digit identifiers, about 1 in 11 passing the check digit, none a patient's: all load.
    write("genuine_ids_passing_check_digit", gp([gp_row(i, appointment_id=f"{4010232100 + i}") for i in range(1, 102)]))
    write("943_476_5919", gp([gp_row(i) for i in range(1, 4)]))
    # The other identifier columns of the person-level sources: another patient's number in each.
    ae = ["ec_ident", "nhs_number", "provider_code", "arrival_date", "ec_department_type"]
    ae_rows = [[f"E{i}", NHS[i], "RXX01", "2024-05-01", "01"] for i in range(1, 101)]
    write("nhs_number_as_ec_ident", csv_text([ae, *ae_rows[:20], ["X" + other, NHS[200], "RXX01", "2024-05-01", "01"],
                                              *ae_rows[20:]]))
    apc = ["spell_id", "nhs_number", "provider_code", "admission_date", "admission_method"]
    apc_rows = [[f"S{i}", NHS[i], "RXX01", "2024-05-03", "21"] for i in range(1, 101)]
    write("nhs_number_as_spell_id", csv_text([apc, *apc_rows[:70], [other, NHS[200], "RXX01", "2024-05-03", "21"],
                                              *apc_rows[70:]]))
    referrals = ["referral_id", "nhs_number", "referral_date", "referral_source", "link_worker_id", "outcome"]
    ref_rows = [[f"R{i}", NHS[i], "2024-03-10", "gp", f"LW{i % 7}", "engaged"] for i in range(1, 101)]
    write("nhs_number_as_referral_id", csv_text([referrals, *ref_rows[:3], [other, NHS[200], "2024-03-10", "gp",
                                                                             "LW1", "engaged"], *ref_rows[3:]]))
    write("nhs_number_as_link_worker_id", csv_text([referrals, *ref_rows[:60], ["R200", NHS[200], "2024-03-10", "gp",
                                                                                 other, "engaged"], *ref_rows[60:]]))
    # sp_wellbeing carries no identity: an identifier holding a written-out number is still an error.
    wellbeing = ["assessment_id", "referral_id", "assessment_date", "assessment_type", "instrument", "item", "score"]
    wb_rows = [[f"W{i}", f"R{i}", "2024-03-10", "baseline", "SWEMWBS", "total", "20"] for i in range(1, 101)]
    write("nhs_number_as_assessment_id", csv_text([wellbeing, *wb_rows[:10], ["943 476 5919", "R200", "2024-03-10",
                                                                               "baseline", "SWEMWBS", "total", "20"],
                                                   *wb_rows[10:]]))


if __name__ == "__main__":
    main()
