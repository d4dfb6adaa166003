"""An independent Python implementation of methods §1-§3, straight from a landing folder's CSVs.

It shares no code with the dbt project: it parses the files itself (latest delivery wins per record
key, files in lexical order), applies the cohort, window, eligibility, measure, subgroup and
before/after definitions as written in docs/methods.md, and returns the statistics
mart_demand_reduction should hold at England level.
"""

from __future__ import annotations

import calendar
import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

IDENTITY = ("nhs_number", "pseudo_nhs_number")
KEYS = {
    "patients": ("@identity",),
    "sp_referrals": ("referral_id",),
    "gp_appointments": ("appointment_id",),
    "ae_attendances": ("ec_ident",),
    "inpatient_admissions": ("spell_id",),
}
ADMITTED = {"306706006", "1066361000000104", "1066391000000105", "1066371000000106", "1066381000000108",
            "1066401000000108"}
GP_MODES = {"Face-to-Face": "gp_face_to_face", "Telephone": "gp_telephone", "Home Visit": "gp_home_visit",
            "Video Conference/Online": "gp_video_online"}
MEASURES = ("gp_appointments", "gp_face_to_face", "gp_telephone", "gp_home_visit", "gp_video_online",
            "practice_appointments", "dna_appointments", "ae_attendances", "ae_type1_attendances",
            "ae_admitted", "emergency_admissions", "emergency_bed_days")


def add_months(d: date, n: int) -> date:
    """Calendar-month arithmetic: the day is clamped to the end of the target month."""
    months = d.year * 12 + d.month - 1 + n
    year, month = divmod(months, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def financial_year(d: date) -> str:
    start = d.year if d.month >= 4 else d.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def _date(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def read_source(landing: Path, source: str) -> list[dict[str, str]]:
    """Records of one source; a later file (lexical order) replaces a record with the same key."""
    records: dict[tuple, dict[str, str]] = {}
    for path in sorted((landing / source).glob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for raw in csv.DictReader(fh):
                rec = {k.strip().lower(): (v or "").strip() for k, v in raw.items()}
                rec["@identity"] = next((rec[c] for c in IDENTITY if rec.get(c)), "")
                records[tuple(rec[k] for k in KEYS[source])] = rec
    return list(records.values())


@dataclass
class Events:
    """Per patient and measure: list of (date, value)."""

    by_patient: dict[str, dict[str, list[tuple[date, int]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list)))

    def add(self, person: str, measure: str, day: date, value: int = 1) -> None:
        self.by_patient[person][measure].append((day, value))

    def window(self, person: str, measure: str, lo: date, hi: date, include_lo: bool, include_hi: bool) -> int:
        total = 0
        for day, value in self.by_patient.get(person, {}).get(measure, ()):
            if (lo < day or (include_lo and day == lo)) and (day < hi or (include_hi and day == hi)):
                total += value
        return total


@dataclass
class Reference:
    cutoff: date
    cohort: list[dict]  # one row per index patient x W, eligibility and counts
    events: Events


def build(landing: Path, windows: tuple[int, ...] = (6, 12)) -> Reference:
    patients = {r["@identity"]: r for r in read_source(landing, "patients")}
    appointments = read_source(landing, "gp_appointments")
    attendances = read_source(landing, "ae_attendances")
    admissions = read_source(landing, "inpatient_admissions")
    referrals = read_source(landing, "sp_referrals")

    cutoff = min(
        max(_date(r["appointment_date"]) for r in appointments),
        max(_date(r["arrival_date"]) for r in attendances),
        max(_date(r["admission_date"]) for r in admissions),
    )
    ev = Events()
    for r in appointments:
        who, day = r["@identity"], _date(r["appointment_date"])
        if r["appt_status"] == "Attended" and r["hcp_type"] == "GP":
            ev.add(who, "gp_appointments", day)
            if r["appt_mode"] in GP_MODES:
                ev.add(who, GP_MODES[r["appt_mode"]], day)
        if r["appt_status"] == "Attended" and r.get("national_category") != "Social Prescribing Service":
            ev.add(who, "practice_appointments", day)
        if r["appt_status"] == "DNA":
            ev.add(who, "dna_appointments", day)
    for r in attendances:
        who, day = r["@identity"], _date(r["arrival_date"])
        ev.add(who, "ae_attendances", day)
        if r["ec_department_type"] == "01":
            ev.add(who, "ae_type1_attendances", day)
        if r.get("discharge_destination_snomed") in ADMITTED:
            ev.add(who, "ae_admitted", day)
    for r in admissions:
        if r["admission_method"].startswith("2"):
            who, day = r["@identity"], _date(r["admission_date"])
            ev.add(who, "emergency_admissions", day)
            end = _date(r["discharge_date"]) or cutoff
            ev.add(who, "emergency_bed_days", day, (end - day).days)

    first: dict[str, dict] = {}
    for r in referrals:
        key = (r["referral_date"], r["referral_id"])
        cur = first.get(r["@identity"])
        if cur is None or key < (cur["referral_date"], cur["referral_id"]):
            first[r["@identity"]] = r

    cohort = []
    for who, ref in first.items():
        t = _date(ref["referral_date"])
        p = patients.get(who)
        for w in windows:
            pre_start, post_end = add_months(t, -w), add_months(t, w)
            follow_up = post_end <= cutoff
            registered = bool(p) and _date(p["registration_start_date"]) <= pre_start and (
                not p["registration_end_date"] or _date(p["registration_end_date"]) >= post_end)
            alive = not p or not p["date_of_death"] or _date(p["date_of_death"]) > post_end
            row = {
                "person": who, "index_date": t, "window_months": w, "cohort_fy": financial_year(t),
                "engaged": ref["outcome"] in ("engaged", "ongoing"),
                "eligible": follow_up and registered and alive,
                "age": t.year - int(p["year_of_birth"]) if p else None,
                "ltc": bool(p and p["ltc_count"] and int(p["ltc_count"]) >= 1),
            }
            if row["eligible"]:
                for m in MEASURES:
                    row[("pre", m)] = ev.window(who, m, pre_start, t, True, False)
                    row[("post", m)] = ev.window(who, m, t, post_end, False, True)
            cohort.append(row)
    return Reference(cutoff, cohort, ev)


def in_subgroup(row: dict, subgroup: str, per_year: float = 12) -> bool:
    if subgroup == "all":
        return True
    if subgroup == "frequent_attenders":
        return row[("pre", "practice_appointments")] >= per_year * row["window_months"] / 12
    if subgroup == "ltc":
        return row["ltc"]
    if subgroup == "ltc_under_80":
        return row["ltc"] and row["age"] < 80
    if subgroup == "ltc_80_plus":
        return row["ltc"] and row["age"] >= 80
    raise ValueError(subgroup)


def before_after(ref: Reference, population: str, subgroup: str, window: int, measure: str,
                 cohort_fy: str = "all") -> dict | None:
    """Methods §3 statistics for one England-level group; None when the group is empty."""
    rows = [r for r in ref.cohort
            if r["eligible"] and r["window_months"] == window
            and (population == "referred" or r["engaged"])
            and (cohort_fy == "all" or r["cohort_fy"] == cohort_fy)
            and in_subgroup(r, subgroup)]
    n = len(rows)
    if not n:
        return None
    pre = [r[("pre", measure)] for r in rows]
    post = [r[("post", measure)] for r in rows]
    d = [b - a for a, b in zip(pre, post, strict=True)]
    pre_total, post_total = sum(pre), sum(post)
    pre_mean = pre_total / n
    out = {"n_patients": n, "pre_total": pre_total, "post_total": post_total, "pre_mean": pre_mean,
           "post_mean": post_total / n,
           "pct_change": 100 * (post_total - pre_total) / pre_total if pre_total else None,
           "pct_change_ci_low": None, "pct_change_ci_high": None}
    if n >= 2 and pre_mean:
        mean_d = sum(d) / n
        sd = math.sqrt(sum((x - mean_d) ** 2 for x in d) / (n - 1))
        half = 1.96 * sd / math.sqrt(n)
        out["pct_change_ci_low"] = 100 * (mean_d - half) / pre_mean
        out["pct_change_ci_high"] = 100 * (mean_d + half) / pre_mean
    return out


def attrition(ref: Reference, window: int) -> dict[str, int]:
    """England attrition, first failing rule in the documented order."""
    out = {"referred": 0, "eligible": 0, "engaged": 0}
    for r in ref.cohort:
        if r["window_months"] != window:
            continue
        out["referred"] += 1
        out["eligible"] += r["eligible"]
        out["engaged"] += r["eligible"] and r["engaged"]
    return out


def read_source_practices(landing: Path) -> list[dict[str, str]]:
    """practices rows (key practice_code + effective_from), latest delivery wins."""
    records: dict[tuple, dict[str, str]] = {}
    for path in sorted((landing / "practices").glob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for raw in csv.DictReader(fh):
                rec = {k.strip().lower(): (v or "").strip() for k, v in raw.items()}
                records[(rec["practice_code"], rec["effective_from"])] = rec
    return list(records.values())


def gp_band(n: int) -> str:
    return "0" if n == 0 else "1-2" if n <= 2 else "3-5" if n <= 5 else "6-11" if n <= 11 else "12+"


def small_band(n: int) -> str:
    return "0" if n == 0 else "1" if n == 1 else "2+"


class Matcher:
    """Methods §4 candidate rules, evaluated directly on the landing data (keys are patient_keys)."""

    def __init__(self, reference: Reference, patients: dict[str, dict], first_referral: dict[str, date],
                 landing: Path) -> None:
        self.ref = reference
        self.patients = patients
        self.first_referral = first_referral
        self.practices = read_source_practices(landing)
        self._sub_icb: dict[tuple[str, date], str | None] = {}

    def sub_icb(self, practice: str, day: date) -> str | None:
        key = (practice, day)
        if key not in self._sub_icb:
            rows = [r for r in self.practices if r["practice_code"] == practice
                    and (not r["effective_from"] or date.fromisoformat(r["effective_from"]) <= day)
                    and (not r["effective_to"] or day < date.fromisoformat(r["effective_to"]))]
            rows.sort(key=lambda r: r["effective_from"] or "")
            self._sub_icb[key] = rows[-1]["sub_icb_code"] if rows else None
        return self._sub_icb[key]

    def static_keys(self, person_key: str, t: date) -> tuple:
        p = self.patients[person_key]
        age = t.year - int(p["year_of_birth"])
        imd = str(math.ceil(int(p["imd_decile"]) / 2)) if p["imd_decile"] else "unknown"
        return (p["sex"], min(age // 10, 8), imd, self.sub_icb(p["practice_code"], t))

    def bands(self, person_key: str, t: date, w: int) -> tuple:
        who = self.patients[person_key]["@identity"]
        pre_start = add_months(t, -w)
        counts = [self.ref.events.window(who, m, pre_start, t, True, False)
                  for m in ("gp_appointments", "emergency_admissions", "ae_attendances")]
        return (gp_band(counts[0]), small_band(counts[1]), small_band(counts[2]))

    def is_valid(self, index_key: str, w: int, control_key: str) -> bool:
        if control_key == index_key or control_key not in self.patients:
            return False
        t = self.first_referral[index_key]
        pre_start, post_end = add_months(t, -w), add_months(t, w)
        c = self.patients[control_key]
        referred = self.first_referral.get(control_key)
        if referred is not None and referred <= t:  # v2: unreferred at t; a later referral censors
            return False
        if not (date.fromisoformat(c["registration_start_date"]) <= pre_start):
            return False
        if c["registration_end_date"] and date.fromisoformat(c["registration_end_date"]) < post_end:
            return False
        if c["date_of_death"] and date.fromisoformat(c["date_of_death"]) <= post_end:
            return False
        index_static = self.static_keys(index_key, t)
        if index_static[3] is None or self.static_keys(control_key, t) != index_static:
            return False
        return self.bands(control_key, t, w) == self.bands(index_key, t, w)
