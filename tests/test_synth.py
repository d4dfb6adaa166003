"""Synthetic landing data: contract conformance, determinism, realism and the planted truth.

The contract's headers, code sets and patterns are written out here again on purpose: the tests check the
generator against the data contract, not against the generator's own tables.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from spw.synth import SynthError, TargetExists, generate

PATIENTS = 3000
START = date(2022, 4, 1)
ID = "nhs_number"

HEADERS = {
    "practices": ["practice_code", "practice_name", "pcn_code", "pcn_name", "sub_icb_code", "sub_icb_name",
                  "icb_code", "icb_name", "region_code", "region_name", "list_size", "effective_from",
                  "effective_to"],
    "link_worker_workforce": ["pcn_code", "month", "wte", "headcount", "funding"],
    "patients": [ID, "practice_code", "year_of_birth", "sex", "ethnic_category", "lsoa_code", "imd_decile",
                 "ltc_count", "registration_start_date", "registration_end_date", "date_of_death"],
    "sp_referrals": ["referral_id", ID, "referral_date", "referral_source", "referring_practice_code",
                     "pcn_code", "link_worker_id", "referral_reasons", "outcome", "first_contact_date",
                     "discharge_date", "contacts_count", "activities"],
    "sp_wellbeing": ["assessment_id", "referral_id", "assessment_date", "assessment_type", "instrument", "item",
                     "score"],
    "gp_appointments": ["appointment_id", ID, "practice_code", "appointment_date", "appt_status", "hcp_type",
                        "appt_mode", "national_category", "time_between_book_and_appt"],
    "ae_attendances": ["ec_ident", ID, "provider_code", "arrival_date", "ec_department_type",
                       "discharge_destination_snomed"],
    "inpatient_admissions": ["spell_id", ID, "provider_code", "admission_date", "discharge_date",
                             "admission_method"],
}
KEYS = {"practices": ("practice_code", "effective_from"), "link_worker_workforce": ("pcn_code", "month", "funding"),
        "patients": (ID,), "sp_referrals": ("referral_id",), "sp_wellbeing": ("assessment_id",),
        "gp_appointments": ("appointment_id",), "ae_attendances": ("ec_ident",),
        "inpatient_admissions": ("spell_id",)}
ACTIVITY_DATES = {"gp_appointments": "appointment_date", "ae_attendances": "arrival_date",
                  "inpatient_admissions": "admission_date"}
PATTERNS = {"practice_code": r"[A-Z][0-9]{5}", "pcn_code": r"U[0-9]{5}", "sub_icb_code": r"[0-9A-Z]{3}",
            "icb_code": r"Q[A-Z0-9]{2}", "lsoa_code": r"E01[0-9]{6}", "provider_code": r"[A-Z0-9]{3,5}",
            "referring_practice_code": r"[A-Z][0-9]{5}", "discharge_destination_snomed": r"[0-9]{6,18}"}
SETS = {
    "region_code": {"Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63"},
    "funding": {"ARRS", "other", ""},
    "sex": {"1", "2", "9", "X"},
    "ethnic_category": set("ABCDEFGHJKLMNPRSZ") | {"99", ""},
    "referral_source": {"gp", "practice_staff", "pharmacy", "mdt", "hospital_discharge", "ahp", "fire_service",
                        "police", "job_centre", "social_care", "housing", "vcse", "self", "other"},
    "outcome": {"engaged", "ongoing", "declined", "did_not_engage", "referred_back"},
    "assessment_type": {"baseline", "follow_up"},
    "instrument": {"ONS4", "SWEMWBS", "WEMWBS"},
    "appt_status": {"Attended", "DNA", "Unknown"},
    "hcp_type": {"GP", "Other Practice staff", "Unknown"},
    "appt_mode": {"Face-to-Face", "Telephone", "Home Visit", "Video Conference/Online", "Unknown"},
    "time_between_book_and_appt": {"Same Day", "1 Day", "2 to 7 Days", "8  to 14 Days", "15  to 21 Days",
                                   "22  to 28 Days", "More than 28 Days", "Unknown / Data Quality", ""},
    "ec_department_type": {"01", "02", "03", "04", "05"},
    "admission_method": {"11", "12", "13", "21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28", "31",
                         "32", "81", "82", "83", "98", "99"},
}
LISTS = {"referral_reasons": {"loneliness_isolation", "mental_health", "long_term_condition",
                              "physical_inactivity", "financial_debt", "housing", "employment", "carer_support",
                              "bereavement", "other"},
         "activities": {"arts", "nature", "physical_activity", "befriending", "advice_debt", "advice_housing",
                        "advice_welfare", "learning", "volunteering", "peer_support", "counselling", "other"}}
ADMITTED = {"306706006", "1066361000000104", "1066391000000105", "1066371000000106", "1066381000000108",
            "1066401000000108"}
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def nhs_ok(v: str) -> bool:
    """Modulus 11 as the NHS Data Dictionary states it, written independently of the generator."""
    if not re.fullmatch(r"\d{10}", v) or len(set(v)) == 1:
        return False
    total = sum(int(v[i]) * (10 - i) for i in range(9))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(v[9])


def read(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        head = next(reader)
        rows = [dict(zip(head, r, strict=True)) for r in reader]
    return head, rows


def load(root: Path, source: str) -> list[dict]:
    """Rows of a source in delivery order with latest-wins on the record key (as the loader does)."""
    by_key: dict[tuple, dict] = {}
    for f in sorted((root / source).glob("*.csv")):
        for r in read(f)[1]:
            by_key[tuple(r[k] for k in KEYS[source])] = r
    return list(by_key.values())


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "landing"
    summary = generate(out, patients=PATIENTS, seed=1, start=START)
    return out, summary


@pytest.fixture(scope="module")
def data(landing: tuple[Path, dict]) -> dict[str, list[dict]]:
    return {s: load(landing[0], s) for s in HEADERS}


def d(s: str) -> date:
    return date.fromisoformat(s)


def test_same_seed_same_bytes_other_seed_differs(landing: tuple[Path, dict], tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, patients=PATIENTS, seed=1, start=START)
    first, second = digest(landing[0]), digest(again)
    assert first == second
    other = tmp_path / "other"
    generate(other, patients=PATIENTS, seed=2, start=START)
    third = digest(other)
    changed = [k for k in first if first[k] != third.get(k)]
    assert any(k.startswith("patients/") for k in changed)
    assert any(k.startswith("gp_appointments/") for k in changed)


def test_every_source_has_files_with_the_contract_header(landing: tuple[Path, dict]) -> None:
    root = landing[0]
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(HEADERS)
    for source, expected in HEADERS.items():
        files = sorted((root / source).glob("*.csv"))
        assert files, source
        for f in files:
            raw = f.read_bytes()
            raw.decode("utf-8")
            head, rows = read(f)
            assert head == expected, f
            keys = [tuple(r[k] for k in KEYS[source]) for r in rows]
            assert len(keys) == len(set(keys)), f"duplicate record key in {f}"
    # Activity sources are monthly deliveries named by period; no two deliveries share a sha256 (the
    # ledger would call the second a duplicate), so there are no header-only files.
    months = sorted(p.stem for p in (root / "gp_appointments").glob("????-??.csv"))
    assert months[0] == "2022-04" and len(months) >= 30
    digests = digest(root)
    assert len(set(digests.values())) == len(digests)
    assert (root / "truth.json").is_file() and not list(root.glob("*/truth.json"))


def test_identities_are_valid_nhs_numbers(data: dict[str, list[dict]]) -> None:
    ids = [r[ID] for r in data["patients"]]
    assert len(ids) == PATIENTS == len(set(ids))
    assert all(nhs_ok(v) for v in ids)
    known = set(ids)
    for source in ("sp_referrals", "gp_appointments", "ae_attendances", "inpatient_admissions"):
        assert all(nhs_ok(r[ID]) and r[ID] in known for r in data[source]), source


def test_codes_patterns_and_numbers_follow_the_contract(data: dict[str, list[dict]]) -> None:
    for source, rows in data.items():
        for r in rows:
            for col, value in r.items():
                if col in SETS:
                    assert value in SETS[col], (source, col, value)
                if col in PATTERNS and value:
                    assert re.fullmatch(PATTERNS[col], value), (source, col, value)
                if col in LISTS and value:
                    assert set(value.split(";")) <= LISTS[col], (source, col, value)
    for r in data["patients"]:
        assert 1900 <= int(r["year_of_birth"]) <= date.today().year
        assert r["imd_decile"] == "" or 1 <= int(r["imd_decile"]) <= 10
        assert 0 <= int(r["ltc_count"]) <= 30
    for r in data["sp_referrals"]:
        assert 0 <= int(r["contacts_count"]) <= 200
    ranges = {"ONS4": (0, 10), "SWEMWBS": (7, 35), "WEMWBS": (14, 70)}
    for r in data["sp_wellbeing"]:
        lo, hi = ranges[r["instrument"]]
        assert lo <= float(r["score"]) <= hi
        assert (r["item"] in {"life_satisfaction", "worthwhile", "happy", "anxious"}) == (r["instrument"] == "ONS4")
        assert r["instrument"] == "ONS4" or r["item"] == "total"
    for r in data["link_worker_workforce"]:
        assert float(r["wte"]) >= 0 and int(r["headcount"]) >= 0 and d(r["month"]).day == 1
    for r in data["practices"]:
        assert int(r["list_size"]) >= 0


def test_dates_are_iso_in_range_and_not_in_the_future(landing: tuple[Path, dict], data: dict) -> None:
    today = date.today()
    end = d(landing[1]["truth"]["parameters"]["data_cutoff_date"])
    assert end < today.replace(day=1)
    for source, rows in data.items():
        for r in rows:
            for col, value in r.items():
                if (col.endswith("_date") or col in ("month", "effective_from", "effective_to")) and value:
                    assert DATE_RE.fullmatch(value), (source, col, value)
                    assert date(1900, 1, 1) <= d(value) <= today, (source, col, value)
    for source, col in ACTIVITY_DATES.items():
        assert all(START <= d(r[col]) <= end for r in data[source]), source
    for r in data["sp_referrals"]:
        for col in ("first_contact_date", "discharge_date"):
            assert not r[col] or d(r[col]) >= d(r["referral_date"])
    for r in data["inpatient_admissions"]:
        assert not r["discharge_date"] or d(r["discharge_date"]) >= d(r["admission_date"])


def test_activity_only_while_registered_and_alive(data: dict[str, list[dict]]) -> None:
    people = {r[ID]: r for r in data["patients"]}
    died = [r for r in data["patients"] if r["date_of_death"]]
    assert died and any(r["registration_end_date"] and not r["date_of_death"] for r in data["patients"])
    assert any(d(r["registration_start_date"]) > START for r in data["patients"])
    for source, col in ACTIVITY_DATES.items():
        for r in data[source]:
            p = people[r[ID]]
            day = d(r[col])
            assert day >= d(p["registration_start_date"])
            assert not p["date_of_death"] or day <= d(p["date_of_death"]), "activity after death"
            assert not p["registration_end_date"] or day <= d(p["registration_end_date"])


def test_geography_crosses_every_arrs_band(data: dict[str, list[dict]]) -> None:
    latest = [r for r in data["practices"] if not r["effective_to"]]
    pcn_pop: Counter[str] = Counter()
    for r in latest:
        pcn_pop[r["pcn_code"]] += int(r["list_size"])
    pops = list(pcn_pop.values())
    assert any(p < 30_000 for p in pops) and any(30_000 <= p <= 100_000 for p in pops)
    assert any(100_000 < p <= 150_000 for p in pops) and any(p > 150_000 for p in pops)
    assert len({r["region_code"] for r in latest}) >= 2
    assert len({r["icb_code"] for r in latest}) >= 3 and len({r["sub_icb_code"] for r in latest}) >= 4
    practices = {r["practice_code"] for r in latest}
    assert {r["practice_code"] for r in data["patients"]} <= practices
    funded = {r["pcn_code"] for r in data["link_worker_workforce"] if float(r["wte"]) > 0}
    assert funded <= set(pcn_pop) and len(funded) >= len(pcn_pop) // 2


def person_years(data: dict[str, list[dict]], end: date) -> float:
    total = 0
    for r in data["patients"]:
        a = max(d(r["registration_start_date"]), START)
        b = min(d(r["registration_end_date"]), end) if r["registration_end_date"] else end
        total += max(0, (b - a).days + 1)
    return total / 365.25


def test_utilisation_near_national_rates(landing: tuple[Path, dict], data: dict) -> None:
    py = person_years(data, d(landing[1]["truth"]["parameters"]["data_cutoff_date"]))
    appts = [r for r in data["gp_appointments"] if r["national_category"] != "Social Prescribing Service"]
    emergency = [r for r in data["inpatient_admissions"] if r["admission_method"].startswith("2")]
    elective = [r for r in data["inpatient_admissions"] if r["admission_method"] in {"11", "12", "13"}]
    assert 5.0 <= len(appts) / py <= 6.5
    assert 0.28 <= len(data["ae_attendances"]) / py <= 0.45
    assert 0.07 <= len(emergency) / py <= 0.14
    assert len(elective) / py > 0.05  # present, and never counted as emergency
    assert {r["appt_status"] for r in appts} == SETS["appt_status"]
    assert {r["appt_mode"] for r in appts} == SETS["appt_mode"]
    assert any(r["discharge_destination_snomed"] in ADMITTED for r in data["ae_attendances"])
    assert {r["ec_department_type"] for r in data["ae_attendances"]} >= {"01", "03"}


def test_link_worker_appointments_are_social_prescribing_service(data: dict[str, list[dict]]) -> None:
    sps = [r for r in data["gp_appointments"] if r["national_category"] == "Social Prescribing Service"]
    assert sps and all(r["hcp_type"] == "Other Practice staff" for r in sps)
    referred = {r[ID] for r in data["sp_referrals"]}
    assert {r[ID] for r in sps} <= referred


def test_winter_is_busier_than_summer(data: dict[str, list[dict]]) -> None:
    by_month = Counter(r["appointment_date"][:7] for r in data["gp_appointments"])
    per_month: dict[str, list[int]] = defaultdict(list)
    for ym, n in by_month.items():
        per_month[ym[5:]].append(n)

    def mean(m: str) -> float:
        return sum(per_month[m]) / len(per_month[m])

    assert mean("01") + mean("12") > 1.1 * (mean("07") + mean("08"))


def test_referrals_favour_recent_high_users(landing: tuple[Path, dict], data: dict) -> None:
    gp_days: dict[str, list[date]] = defaultdict(list)
    for r in data["gp_appointments"]:
        if r["appt_status"] == "Attended" and r["national_category"] != "Social Prescribing Service":
            gp_days[r[ID]].append(d(r["appointment_date"]))
    first: dict[str, date] = {}
    for r in data["sp_referrals"]:
        first[r[ID]] = min(first.get(r[ID], date.max), d(r["referral_date"]))
    assert len(first) >= 50 and len(data["sp_referrals"]) > len(first), "index referrals and re-referrals"
    pre = [sum(1 for x in gp_days[p] if 0 < (t - x).days <= 182) for p, t in first.items()]
    py = person_years(data, d(landing[1]["truth"]["parameters"]["data_cutoff_date"]))
    population_half_year = sum(len(v) for v in gp_days.values()) / py / 2
    assert sum(pre) / len(pre) > 1.5 * population_half_year
    outcomes = Counter(r["outcome"] for r in data["sp_referrals"])
    assert set(outcomes) == SETS["outcome"]


def test_wellbeing_has_baselines_follow_ups_and_attrition(data: dict[str, list[dict]]) -> None:
    kinds: dict[str, set[str]] = defaultdict(set)
    for r in data["sp_wellbeing"]:
        kinds[r["referral_id"]].add(r["assessment_type"])
    assert set(kinds) <= {r["referral_id"] for r in data["sp_referrals"]}
    assert any(k == {"baseline"} for k in kinds.values())
    assert any(k == {"baseline", "follow_up"} for k in kinds.values())
    assert {r["instrument"] for r in data["sp_wellbeing"]} == SETS["instrument"]


def test_resubmission_corrects_rows_of_the_original(landing: tuple[Path, dict]) -> None:
    root, summary = landing
    info = summary["truth"]["resubmission"]
    resub = root / info["file"]
    month = resub.name[:7]
    original = root / "gp_appointments" / f"{month}.csv"
    files = sorted(p.name for p in (root / "gp_appointments").glob("*.csv"))
    assert files.index(resub.name) == files.index(original.name) + 1  # loads right after the original
    before = {r["appointment_id"]: r for r in read(original)[1]}
    after = read(resub)[1]
    assert len(after) == info["rows"] > 0
    for r in after:
        old = before[r["appointment_id"]]
        assert old["appt_mode"] == "Unknown" and old["time_between_book_and_appt"] == "Unknown / Data Quality"
        same = ("appointment_date", "appt_status", "hcp_type", ID, "practice_code")
        assert all(old[c] == r[c] for c in same)
    assert any(r["appt_mode"] != "Unknown" for r in after)


def test_truth_is_present_and_consistent(landing: tuple[Path, dict], data: dict) -> None:
    root = landing[0]
    truth = json.loads((root / "truth.json").read_text())
    assert truth == json.loads(json.dumps(landing[1]["truth"]))
    rows = truth["counts"]["rows"]
    for source in HEADERS:
        assert rows[source] == sum(len(read(f)[1]) for f in (root / source).glob("*.csv")), source
    assert truth["counts"]["index_referrals"] == len({r[ID] for r in data["sp_referrals"]})
    _, per_patient = read(root / "truth_patients.csv")
    assert len(per_patient) == truth["counts"]["index_referrals"]
    mult = truth["planted_effect"]["multipliers"]
    assert all(0 < m < 1 for m in mult.values())
    for measure, by_window in truth["effects"].items():
        for w, cell in by_window.items():
            eng, ref = cell["engaged"], cell["referred"]
            assert 0 < eng["n_patients"] <= ref["n_patients"]
            values = [float(r[f"{measure}_w{w}"]) for r in per_patient
                      if r[f"eligible_w{w}"] == "1" and r["engaged"] == "1"]
            assert len(values) == eng["n_patients"]
            assert eng["true_effect_per_patient"] == pytest.approx(sum(values) / len(values), abs=1e-5)
            assert eng["true_effect_per_patient"] < 0
            assert ref["true_effect_per_patient"] == pytest.approx(
                eng["true_effect_per_patient"] * eng["n_patients"] / ref["n_patients"], abs=1e-5)
    gp = truth["effects"]["gp_appointments"]["12"]["engaged"]
    # Regression to the mean: the naive before/after fall is clearly bigger than the planted effect.
    assert gp["naive_pct_change"] < gp["true_effect_pct_of_pre_mean"] - 5


def test_pseudonymised_identity_and_cap_at_today(tmp_path: Path) -> None:
    out = tmp_path / "pseudo"
    summary = generate(out, patients=400, seed=3, identity="pseudo", today=date(2023, 6, 15))
    assert summary["truth"]["parameters"]["data_cutoff_date"] == "2023-05-31"
    for source in ("patients", "gp_appointments", "sp_referrals"):
        for f in (out / source).glob("*.csv"):
            head, rows = read(f)
            assert "pseudo_nhs_number" in head and "nhs_number" not in head
            assert all(re.fullmatch(r"[A-Za-z0-9_-]{8,128}", r["pseudo_nhs_number"]) for r in rows)
    dates = [r["appointment_date"] for f in (out / "gp_appointments").glob("*.csv") for r in read(f)[1]]
    assert max(dates) <= "2023-05-31"
    with pytest.raises(TargetExists):
        generate(out, patients=10, seed=3, today=date(2023, 6, 15))
    with pytest.raises(SynthError):
        generate(tmp_path / "short", patients=10, today=date(2023, 3, 15))  # no room after the lead-in
    generate(out, patients=10, seed=3, today=date(2023, 6, 15), overwrite=True)
    assert len(read(out / "patients" / "2023-05.csv")[1]) == 10


def test_reference_check_agrees_with_truth_on_the_cohort(landing: tuple[Path, dict]) -> None:
    """The files alone (read as the loader would) give the same eligible engaged cohort as the truth."""
    from spw.synth import check

    root, summary = landing
    truth = summary["truth"]
    panel = check.load(root)
    cutoff = check.parse_day(truth["parameters"]["data_cutoff_date"])
    for w in (6, 12):
        result = check.did(panel, w, cutoff, "engaged")
        for measure, acc in result.items():
            n = len(acc["e"]) + acc["unmatched"]
            assert n == truth["effects"][measure][str(w)]["engaged"]["n_patients"], (measure, w)
            assert len(acc["e"]) > 0
        assert sum(result["gp_appointments"]["pre"]) > 0


# --- scenario knobs and the array path (methods §4c calibration) --------------------------------------


def test_generator_code_sets_are_the_contracts() -> None:
    """Every code list the generator draws from is the contract's own set (issue 13: no retyped lists)."""
    from spw.ingest import contract as C
    from spw.synth import params as P

    pairs = [(P.SEX_CODES, C.SEX_CODES), (P.ETHNIC_CODES, C.ETHNIC_CATEGORIES), (P.APPT_STATUS, C.APPT_STATUS),
             (P.HCP_TYPES, C.HCP_TYPES), (P.APPT_MODES, C.APPT_MODES), (P.BOOK_TO_APPT, C.BOOK_TO_APPT),
             (P.EC_DEPT_TYPES, C.EC_DEPARTMENT_TYPES), (P.ADMITTED_SNOMED, C.ADMITTED_DESTINATIONS),
             (P.REFERRAL_SOURCES, C.REFERRAL_SOURCES), (P.REFERRAL_REASONS, C.REFERRAL_REASONS),
             (P.ACTIVITIES, C.ACTIVITIES), (P.OUTCOMES, C.OUTCOMES), (P.ONS4_ITEMS, C.ONS4_ITEMS)]
    for table, codes in pairs:
        assert len(table) == len(set(table)) and set(table) == codes, table
    methods = set(P.EMERGENCY_METHODS) | set(P.ELECTIVE_METHODS)
    assert methods <= C.ADMISSION_METHODS
    assert set(P.EMERGENCY_METHODS) == {c for c in C.ADMISSION_METHODS if c.startswith("2")}
    assert not set(P.OTHER_DESTINATIONS) & C.ADMITTED_DESTINATIONS
    for weights in (P.SEX_P, P.HCP_P, P.MODE_P_UNDER_80, P.MODE_P_80_PLUS, P.SPS_MODE_P, P.BOOK_P, P.SPS_BOOK_P,
                    P.EC_DEPT_P, P.ADMITTED_P, P.REFERRAL_SOURCE_P):
        assert sum(weights) == pytest.approx(1.0)
    with pytest.raises(KeyError, match="not in the contract"):
        P.weighted(C.APPT_MODES, {"Face to Face": 1.0})  # a typo cannot slip into the data


def test_default_knobs_plant_the_documented_effect_and_nothing_else() -> None:
    from spw.synth import activity as A
    from spw.synth.params import SynthParams

    p = SynthParams()
    assert A.measure_multipliers(p) == {"gp_appointments": p.effect_gp, "ae_attendances": p.effect_ae,
                                        "emergency_admissions": p.effect_emergency}
    assert A.practice_effects(1, 10, 12, p) is None
    assert A.engage_probability(None, None, p) == p.engage_p  # type: ignore[arg-type]
    none = SynthParams(effect_scale=0.0)
    assert set(A.measure_multipliers(none).values()) == {1.0}
    half = SynthParams(effect_scale=0.5)
    assert A.measure_multipliers(half)["gp_appointments"] == pytest.approx(1 - 0.5 * (1 - p.effect_gp))


@pytest.fixture(scope="module")
def arrays_default():
    from spw.synth import arrays

    return arrays.simulate(20_000, 5)


def test_array_path_matches_the_file_generator_in_distribution(arrays_default, landing: tuple[Path, dict]) -> None:
    a = arrays_default
    truth = landing[1]["truth"]
    years = a.n_months / 12
    for m in ("gp_appointments", "ae_attendances", "emergency_admissions"):
        rate = a.counts[m].sum() / a.n / years
        files = truth["rates_per_person_year"]["gp_appointments_measure" if m == "gp_appointments" else m]
        assert rate == pytest.approx(files, rel=0.25), m
    referred = a.ref_month >= 0
    assert (a.ref_month[referred] >= a.service_start).all()
    assert 0.5 < a.engaged[referred].mean() < 0.7 and not a.engaged[~referred].any()
    # The planted effect falls on engaged patients only, after their referral month, and only reduces use.
    for m in ("gp_appointments", "emergency_admissions"):
        eff = a.effect[m]
        assert (eff <= 0).all() and eff[~a.engaged].sum() == 0
        rows = np.flatnonzero(a.engaged)
        before = np.arange(a.n_months)[None, :] < a.ref_month[rows][:, None]
        assert eff[rows][before].sum() == 0 and eff[rows].sum() < 0


def test_effect_scale_zero_removes_nothing() -> None:
    from spw.synth import arrays
    from spw.synth.params import SynthParams

    a = arrays.simulate(5_000, 2, SynthParams(effect_scale=0.0))
    b = arrays.simulate(5_000, 2)
    assert all(not a.effect[m].any() for m in a.effect)
    assert any(b.effect[m].any() for m in b.effect)
    assert (a.ref_month == b.ref_month).all()  # same seed, same people referred: only the effect differs


def test_practice_effects_make_practices_differ(arrays_default) -> None:
    from spw.synth import arrays
    from spw.synth.params import SynthParams

    def between_practice_sd(a) -> float:
        per = np.bincount(a.practice, a.counts["gp_appointments"].sum(axis=1)) / np.bincount(a.practice)
        return float(np.std(np.log(per[np.bincount(a.practice) > 50])))

    shocked = arrays.simulate(20_000, 5, SynthParams(practice_sd=0.4, practice_month_sd=0.2))
    assert between_practice_sd(shocked) > 2 * between_practice_sd(arrays_default)


def test_episode_persistence_knob() -> None:
    from spw.synth import activity as A
    from spw.synth import geography, population
    from spw.synth.params import SynthParams
    from spw.synth.timeline import Timeline

    tl = Timeline(START, date(2024, 4, 1))
    rng = np.random.default_rng(1)
    pt = population.generate(rng, 0, 20_000, geography.build(), tl, SynthParams(), 1, ID)
    for months, lo, hi in ((1.0, 0.0, 0.1), (3.0, 0.55, 0.75)):
        ep = A.episodes(np.random.default_rng(2), pt, SynthParams(episode_months=months), tl.n_months)
        stay = (ep[:, 1:] & ep[:, :-1]).sum() / ep[:, :-1].sum()  # P(episode next month | episode now)
        assert lo < stay < hi, (months, stay)


def test_use_dependent_exits_take_the_high_users() -> None:
    from spw.synth import arrays
    from spw.synth.params import SynthParams

    base = arrays.simulate(20_000, 3)
    exits = arrays.simulate(20_000, 3, SynthParams(exit_rate=0.2, exit_use_power=2.0))
    end = base.n_months - 1
    assert (exits.last_full < end).mean() > (base.last_full < end).mean() + 0.05
    use = base.counts["gp_appointments"][:, :12].sum(axis=1)  # same seed: the same people before any exit
    high, low = use >= np.quantile(use, 0.9), use <= np.quantile(use, 0.5)
    extra = (exits.last_full < end) & (base.last_full == end)
    assert extra[high].mean() > 1.5 * extra[low].mean()


def test_engagement_can_depend_on_frailty() -> None:
    from spw.synth import activity as A
    from spw.synth.params import SynthParams

    class Pt:
        frailty = np.array([[0.5] * 4, [1.0] * 4, [2.0] * 4])

    p = A.engage_probability(Pt(), np.arange(3), SynthParams(engage_frailty_slope=1.0))  # type: ignore[arg-type]
    assert p[0] < p[1] < p[2] and p[1] == pytest.approx(0.6)


def test_knobs_in_the_file_generator_keep_activity_inside_registration(tmp_path: Path) -> None:
    from spw.synth.params import SynthParams

    knobs = SynthParams(exit_rate=0.3, practice_sd=0.3, practice_month_sd=0.2, engage_frailty_slope=1.0,
                        effect_scale=0.0)
    summary = generate(tmp_path / "knobs", patients=1500, seed=4, start=START, params=knobs)
    root = tmp_path / "knobs"
    assert summary["truth"]["planted_effect"]["multipliers"]["gp_appointments"] == 1.0
    assert summary["truth"]["counts"]["events_removed_by_effect"] == 0
    patients = {r[ID]: r for r in load(root, "patients")}
    for source, col in ACTIVITY_DATES.items():
        for r in load(root, source):
            end = patients[r[ID]]["registration_end_date"]
            assert not end or r[col] <= end, (source, r)


def test_design_truth_is_the_planted_effect_over_the_analysed_rows() -> None:
    from spw.synth.truth import design_truth, window_effect

    effect = np.zeros((4, 10))
    effect[0, 3:6] = -1.0  # engaged, referred in month 2: months 3..5 of its 3-month horizon
    effect[2, 8] = -0.5  # outside row 2's horizon from month 4 (5..7)
    rows, month = np.array([0, 1, 2]), np.array([2, 2, 4])
    assert window_effect(effect, rows, month, 3).tolist() == [-3.0, 0.0, 0.0]
    engaged = np.array([True, False, True, False])
    t = design_truth(effect, rows, month, 3, engaged)
    assert t == {"n": 3, "per_patient": -1.0, "per_engaged_patient": -1.5}


def test_staggered_truth_is_the_panel_patients_effect(landing: tuple[Path, dict]) -> None:
    """truth.json's staggered theta = the mean of the per-patient column over the panel patients."""
    root, summary = landing
    truth = summary["truth"]["staggered"]
    _, rows = read(root / "truth_patients.csv")
    panel = [r for r in rows if r["sdid_panel"] == "1"]
    assert 0 < len(panel) < len(rows)
    for measure, t in truth.items():
        values = [float(r[f"sdid_{measure}"]) for r in panel]
        engaged = [float(r[f"sdid_{measure}"]) for r in panel if r["engaged"] == "1"]
        assert t["referred"]["n_patients"] == len(panel) and t["engaged"]["n_patients"] == len(engaged)
        assert t["referred"]["true_theta"] == pytest.approx(sum(values) / len(values), abs=1e-5)
        assert t["engaged"]["true_theta"] == pytest.approx(sum(values) / len(engaged), abs=1e-5)
        assert t["referred"]["true_theta"] < 0 and t["referred"]["base_12_months"] > 0
        assert all(v == 0 for r, v in zip(panel, values, strict=True) if r["engaged"] == "0")


def test_whole_months_of_registration_and_life() -> None:
    from spw.synth import arrays
    from spw.synth.timeline import NEVER, Timeline, day_number

    tl = Timeline(date(2023, 1, 1), date(2023, 7, 1))
    start = np.array([day_number(date(2022, 5, 3)), day_number(date(2023, 2, 1)), day_number(date(2023, 2, 2))])
    end = np.array([NEVER, day_number(date(2023, 4, 30)), day_number(date(2023, 5, 31))])
    death = np.array([NEVER, day_number(date(2023, 4, 30)), NEVER])  # dies on a month's last day
    first, last = arrays.full_months(tl, start, end, death)
    assert first.tolist() == [0, 1, 2] and last.tolist() == [5, 2, 4]
    share = arrays.month_overlap(tl, start, end)
    assert share[1].tolist() == [0, 1, 1, 1, 0, 0] and share[2, 1] == pytest.approx(27 / 28)
    effect = arrays.effect_share(tl, np.array([day_number(date(2023, 1, 31))]), np.array([True]), 2)
    assert effect[0].tolist() == pytest.approx([0, 1, 1, 0, 0, 0])  # (31 Jan, 31 Mar]


def test_england_layout_lists_are_the_patients_registered(tmp_path: Path) -> None:
    """The demo's scaled-down England: every NHS England region, and each practice's list size in each
    period is the number of synthetic patients registered there on the period's first day."""
    out = tmp_path / "england"
    summary = generate(out, patients=3000, seed=5, start=START, layout="england")

    def rows(source: str) -> list[dict]:
        return [r for f in sorted((out / source).glob("*.csv")) for r in csv.DictReader(f.open(encoding="utf-8"))]

    practices, patients = rows("practices"), rows("patients")
    assert {r["region_code"] for r in practices} == {"Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63"}
    registered: Counter = Counter()
    for p in patients:
        for day in {r["effective_from"] for r in practices}:
            end = p["registration_end_date"]
            if p["registration_start_date"] <= day and (not end or end >= day):
                registered[(p["practice_code"], day)] += 1
    lists = {(r["practice_code"], r["effective_from"]): int(r["list_size"]) for r in practices}
    assert sum(lists.values()) > 0
    assert lists == {k: registered.get(k, 0) for k in lists}
    assert set(registered) <= set(lists)
    last = sum(v for (_, day), v in lists.items() if day == max(r["effective_from"] for r in practices))
    assert summary["truth"]["parameters"]["people_per_registered_patient"] == round(63_000_000 / last, 1)
    # WTE follows the registered patients (caseloads read as at full size), not the ARRS bands
    wte = sum(float(r["wte"]) for r in rows("link_worker_workforce") if r["month"] == "2024-03-01")
    assert 0 < wte < last / 10_000
