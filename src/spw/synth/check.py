"""Independent reference check of a generated folder: matched DiD (methods section 4) against the truth.

`python -m spw.synth.check DIR [--population engaged|referred]` reads the landing CSVs the way the
loader would (latest delivery wins), recomputes the engaged cohort, windows, eligibility, exact matching
and the difference-in-differences in plain Python, and prints them beside truth.json and beside the truth
averaged over the same matched patients (truth_patients.csv). It is a developer's yardstick for the
warehouse's own marts, not part of the pipeline. Practice -> sub-ICB uses the latest practices row.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from spw.synth.timeline import add_months, day_number, from_day

NEVER = 10**7
GP_BANDS = np.array([1, 3, 6, 12])  # {0, 1-2, 3-5, 6-11, 12+}
COUNT_BANDS = np.array([1, 2])  # {0, 1, 2+}
MEASURES = {
    "gp_appointments": ("gp_appointments", "appointment_date",
                        lambda r: r["appt_status"] == "Attended" and r["hcp_type"] == "GP"),
    "ae_attendances": ("ae_attendances", "arrival_date", lambda r: True),
    "emergency_admissions": ("inpatient_admissions", "admission_date",
                             lambda r: r["admission_method"].startswith("2")),
}
KEY = {"gp_appointments": "appointment_id", "ae_attendances": "ec_ident", "inpatient_admissions": "spell_id"}


def parse_day(s: str) -> int:
    return day_number(date.fromisoformat(s)) if s else NEVER


def _rows(root: Path, source: str) -> Iterator[dict]:
    for f in sorted((root / source).glob("*.csv")):
        with f.open(encoding="utf-8", newline="") as fh:
            yield from csv.DictReader(fh)


@dataclass
class Panel:
    ident: str
    index: dict[str, int]
    yob: np.ndarray
    stratum: list[tuple]
    reg_start: np.ndarray
    reg_end: np.ndarray
    death: np.ndarray
    first_ref: np.ndarray
    outcome: dict[int, str]
    events: dict[str, np.ndarray]  # sorted patient * 1e8 + day

    def count(self, measure: str, pat: np.ndarray, lo: int, hi: int) -> np.ndarray:
        keys = self.events[measure]
        return (np.searchsorted(keys, pat * 10**8 + hi, "right")
                - np.searchsorted(keys, pat * 10**8 + lo, "left"))

    def eligible(self, pat: np.ndarray, lo: int, hi: int) -> np.ndarray:
        return ((self.reg_start[pat] <= lo) & ((self.reg_end[pat] == NEVER) | (self.reg_end[pat] >= hi))
                & ((self.death[pat] == NEVER) | (self.death[pat] > hi)))


def load(root: Path) -> Panel:
    sub = {r["practice_code"]: r["sub_icb_code"] for r in _rows(root, "practices") if not r["effective_to"]}
    patients = {}
    for r in _rows(root, "patients"):
        ident = "nhs_number" if "nhs_number" in r else "pseudo_nhs_number"
        patients[r[ident]] = r
    index = {k: i for i, k in enumerate(patients)}
    recs = list(patients.values())
    strata = [(r["sex"], sub.get(r["practice_code"], ""), (int(r["imd_decile"]) + 1) // 2 if r["imd_decile"] else 0)
              for r in recs]
    first_ref = np.full(len(recs), NEVER, dtype=np.int64)
    outcome: dict[int, str] = {}
    refs = {r["referral_id"]: r for r in _rows(root, "sp_referrals")}
    for r in sorted(refs.values(), key=lambda r: (r["referral_date"], r["referral_id"])):
        i = index[r[ident]]
        if first_ref[i] == NEVER:
            first_ref[i], outcome[i] = parse_day(r["referral_date"]), r["outcome"]
    events = {}
    for measure, (source, col, keep) in MEASURES.items():
        latest = {r[KEY[source]]: r for r in _rows(root, source)}  # a resubmission replaces its keys
        kept = np.array([(index[r[ident]], parse_day(r[col])) for r in latest.values() if keep(r)],
                        dtype=np.int64).reshape(-1, 2)
        events[measure] = np.sort(kept[:, 0] * 10**8 + kept[:, 1])
    return Panel(ident, index, np.array([int(r["year_of_birth"]) for r in recs]), strata,
                 np.array([parse_day(r["registration_start_date"]) for r in recs]),
                 np.array([parse_day(r["registration_end_date"]) for r in recs]),
                 np.array([parse_day(r["date_of_death"]) for r in recs]), first_ref, outcome, events)


def did(panel: Panel, w: int, cutoff: int, population: str, k: int = 3) -> dict[str, dict]:
    by_stratum: dict[tuple, list[int]] = {}
    for i, s in enumerate(panel.stratum):
        by_stratum.setdefault(s, []).append(i)
    groups = {s: np.array(v) for s, v in by_stratum.items()}
    out = {m: {"e": [], "pre": [], "post": [], "idx": [], "unmatched": 0} for m in MEASURES}
    for i in np.flatnonzero(panel.first_ref < NEVER):
        if population == "engaged" and panel.outcome[int(i)] not in ("engaged", "ongoing"):
            continue
        t = int(panel.first_ref[i])
        lo, hi = day_number(add_months(from_day(t), -w)), day_number(add_months(from_day(t), w))
        me = np.array([i])
        if hi > cutoff or not panel.eligible(me, lo, hi)[0]:
            continue
        c = groups[panel.stratum[i]]
        c = c[(c != i) & (panel.first_ref[c] > hi) & panel.eligible(c, lo, hi)]
        year = from_day(t).year
        c = c[np.minimum((year - panel.yob[c]) // 10, 8) == min((year - panel.yob[i]) // 10, 8)]
        for m, bands in (("gp_appointments", GP_BANDS), ("ae_attendances", COUNT_BANDS),
                         ("emergency_admissions", COUNT_BANDS)):
            mine = np.searchsorted(bands, panel.count(m, me, lo, t - 1), "right")[0]
            c = c[np.searchsorted(bands, panel.count(m, c, lo, t - 1), "right") == mine]
        if c.size:
            h = [hashlib.sha256(f"{i}:{j}".encode()).hexdigest() for j in c.tolist()]
            c = c[np.argsort(h, kind="stable")[:k]]
        for m, acc in out.items():
            pre, post = panel.count(m, me, lo, t - 1)[0], panel.count(m, me, t + 1, hi)[0]
            if not c.size:
                acc["unmatched"] += 1
                continue
            ctl = (panel.count(m, c, t + 1, hi) - panel.count(m, c, lo, t - 1)).mean()
            acc["e"].append((post - pre) - ctl)
            acc["pre"].append(pre)
            acc["post"].append(post)
            acc["idx"].append(int(i))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--population", choices=("engaged", "referred"), default="engaged")
    args = ap.parse_args(argv)
    root: Path = args.folder
    truth = json.loads((root / "truth.json").read_text())
    cutoff = parse_day(truth["parameters"]["data_cutoff_date"])
    panel = load(root)
    with (root / "truth_patients.csv").open(newline="") as fh:
        per_patient = {panel.index[r[panel.ident]]: r for r in csv.DictReader(fh)}
    print("window measure n_matched n_unmatched did_mean [95% CI] did_pct | truth_matched truth_all")
    for w in (6, 12):
        for m, acc in did(panel, w, cutoff, args.population).items():
            e = np.array(acc["e"], dtype=float)
            half = 1.96 * e.std(ddof=1) / np.sqrt(e.size) if e.size > 1 else float("nan")
            pre = float(np.mean(acc["pre"])) if acc["pre"] else float("nan")
            matched = np.mean([float(per_patient[i][f"{m}_w{w}"]) for i in acc["idx"]]) if acc["idx"] else 0.0
            all_ = truth["effects"][m][str(w)][args.population]["true_effect_per_patient"]
            print(f"W={w:<2} {m:<21} {e.size:6d} {acc['unmatched']:6d} {e.mean():8.3f} "
                  f"[{e.mean() - half:.3f}, {e.mean() + half:.3f}] {100 * e.mean() / pre:6.1f}% | "
                  f"{matched:8.3f} {all_:8.3f}")


if __name__ == "__main__":
    main()
