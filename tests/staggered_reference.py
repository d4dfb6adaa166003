"""The staggered DiD's inputs exported from the warehouse as numpy arrays (for spw.estimators.staggered).

Spans, strata and monthly counts are derived here in Python from the staging tables and
int_patient_events with the methods' rules (docs/methods.md, "Staggered design"), not read from the
staggered models, so the comparison checks the SQL's derivations too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import warehouse_helpers as wh

from spw.estimators import staggered as S


def month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def financial_year(m: int) -> str:
    y, mo = divmod(m, 12)
    start = y if mo + 1 >= 4 else y - 1
    return f"{start}/{(start + 1) % 100:02d}"


@dataclass
class Export:
    panel: S.Panel
    month0: int  # month index of array column 0
    y: dict[str, np.ndarray]  # measure -> (n, T)
    geography: dict[str, np.ndarray]  # level -> (n,) code of the patient's practice at its own G (object)
    cohort_fy: np.ndarray  # (n,) financial year of G ('' when never referred)
    patient_keys: list[str]


def export(measures: list[str], package_compatible: bool = False) -> Export:
    cutoff = wh.query("select cutoff_date from intermediate.int_data_cutoff")[0]["cutoff_date"]
    pats = wh.query("select patient_key, practice_code, sex, year_of_birth, imd_decile, registration_start_date, "
                    "registration_end_date, date_of_death from staging.stg_gp__patients where patient_key is not null "
                    "and registration_start_date is not null order by patient_key")
    refs = {r["patient_key"]: r for r in wh.query(
        "select patient_key, index_date, is_engaged from intermediate.int_index_referrals")}
    practices = wh.query("select practice_code, pcn_code, sub_icb_code, icb_code, region_code, valid_from, valid_to "
                         "from intermediate.int_practice_geography")
    keys = [p["patient_key"] for p in pats]
    n = len(pats)
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    far = date(9999, 12, 31)
    for i, p in enumerate(pats):
        s = p["registration_start_date"]
        first[i] = month_index(s) + (0 if s.day == 1 else 1)
        end = min(p["registration_end_date"] or far,
                  (p["date_of_death"] - timedelta(days=1)) if p["date_of_death"] else far)
        last[i] = month_index(end) - (0 if (end + timedelta(days=1)).day == 1 else 1) if end < far else 10**6
    # column 0: early enough for the base block of the first referral month
    ref_months = [month_index(r["index_date"]) for r in refs.values()]
    month0 = (min(ref_months) if ref_months else month_index(cutoff)) - 16
    T = month_index(cutoff) - month0 + 1
    ref = np.full(n, -1, np.int64)
    engaged = np.zeros(n, bool)
    for i, k in enumerate(keys):
        r = refs.get(k)
        if r:
            ref[i] = month_index(r["index_date"]) - month0
            engaged[i] = bool(r["is_engaged"])
    codes = sorted({p["practice_code"] for p in pats})
    code_ix = {c: j for j, c in enumerate(codes)}
    practice = np.array([code_ix[p["practice_code"]] for p in pats])
    # practice geography on the first day of each month (latest valid_from wins)
    geo_at: dict[tuple[str, int], dict] = {}
    for row in sorted(practices, key=lambda r: r["valid_from"]):
        for m in range(T):
            y, mo = divmod(month0 + m, 12)
            d = date(y, mo + 1, 1)
            if row["valid_from"] <= d < row["valid_to"]:
                geo_at[(row["practice_code"], m)] = row
    stratum = np.full((n, T), -1, np.int64)
    table: dict[tuple, int] = {}
    for i, p in enumerate(pats):
        imdq = (p["imd_decile"] + 1) // 2 if p["imd_decile"] is not None else 0
        for m in range(T):
            g = geo_at.get((p["practice_code"], m))
            year = (month0 + m) // 12
            band = min((year - p["year_of_birth"]) // 10, 8)
            key = ("all",) if package_compatible else (g["sub_icb_code"] if g else None, p["sex"], band, imdq)
            if key[0] is None:
                stratum[i, m] = -2 - i  # unknown practice: a stratum of its own, never matched
            else:
                stratum[i, m] = table.setdefault(key, len(table))
    geography = {lvl: np.full(n, None, object) for lvl in ("region", "icb", "sub_icb", "pcn")}
    fy = np.full(n, "", object)
    for i in np.flatnonzero(ref >= 0):
        if 0 <= ref[i] < T:
            g = geo_at.get((pats[i]["practice_code"], int(ref[i])))
            for lvl in geography:
                geography[lvl][i] = g[f"{lvl}_code"] if g else None
            fy[i] = financial_year(int(ref[i]) + month0)
    y = {m: np.zeros((n, T)) for m in measures}
    row_of = {k: i for i, k in enumerate(keys)}
    events = wh.query("select measure, patient_key, event_date, event_value from intermediate.int_patient_events "
                      "where event_date <= %s and measure = any(%s)", (cutoff, measures))
    for e in events:
        i = row_of.get(e["patient_key"])
        m = month_index(e["event_date"]) - month0
        if i is not None and 0 <= m < T:
            y[e["measure"]][i, m] += e["event_value"]
    panel = S.Panel(stratum=stratum, practice=practice, practice_codes=codes, first_referral=ref,
                    first_month=first - month0, last_month=last - month0, engaged=engaged,
                    cutoff_month=month_index(cutoff) - month0)
    return Export(panel=panel, month0=month0, y=y, geography=geography, cohort_fy=fy, patient_keys=keys)


def group_mask(ex: Export, level: str, code: str, cohort_fy: str) -> np.ndarray | None:
    n = ex.panel.n
    mask = np.ones(n, bool) if level == "england" else (ex.geography[level] == code)
    if cohort_fy != "all":
        mask &= ex.cohort_fy == cohort_fy
    return None if level == "england" and cohort_fy == "all" else mask
