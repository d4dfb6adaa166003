"""ODS hierarchy of the synthetic area: regions, ICBs, sub-ICBs, PCNs, practices, providers, LSOAs.

The geography is fixed (independent of the seed) so runs with different seeds are comparable.
`list_size` is the practice's full registered list; the generated patients are a sample of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from spw.synth.timeline import add_months

REGIONS = (("Y60", "Midlands"), ("Y62", "North West"))
# Two ICBs per region, two sub-ICBs per ICB; codes are made up but follow the ODS patterns.
ICBS = (("QZ1", "Synthetic Shire ICB"), ("QZ2", "Synthetic Vale ICB"),
        ("QZ3", "Synthetic Bay ICB"), ("QZ4", "Synthetic Moor ICB"))
SUB_ICBS = (("Z1A", "Northtown"), ("Z1B", "Southtown"), ("Z2A", "Eastvale"), ("Z2B", "Westvale"),
            ("Z3A", "Harbourside"), ("Z3B", "Cliffside"), ("Z4A", "Highmoor"), ("Z4B", "Lowmoor"))
# Registered population per PCN (thousands) at the start: crosses every ARRS band
# (< 30k, 30-100k, > 100k, > 150k); 98.5k grows past 100k during the period.
PCN_POPULATIONS_K = (18, 26, 34, 45, 52, 61, 70, 78, 88, 98.5, 105, 120, 135, 155, 170, 210,
                     24, 40, 48, 58, 66, 84, 92, 115)
SUB_ICB_DEPRIVATION = (3.0, 6.5, 4.5, 8.0, 2.5, 5.5, 7.0, 4.0)  # mean IMD decile of the area
PRACTICE_SIZE = 9_500
LSOAS_PER_PRACTICE = 25
LIST_GROWTH = 0.012  # per financial year
MOVED_PRACTICE = 1  # this practice moves to the next PCN from the second financial-year boundary


@dataclass
class Geography:
    practice_code: list[str]
    practice_name: list[str]
    practice_pcn: np.ndarray  # PCN index at the start
    practice_list: np.ndarray  # list size at the start (full population)
    practice_dep: np.ndarray  # mean IMD decile of the practice
    pcn_code: list[str]
    pcn_name: list[str]
    pcn_sub_icb: np.ndarray
    pcn_wemwbs: np.ndarray  # PCN's service uses WEMWBS instead of SWEMWBS
    lsoa_code: np.ndarray  # (practices, LSOAS_PER_PRACTICE) object
    lsoa_decile: np.ndarray  # (practices, LSOAS_PER_PRACTICE) int
    move_day: int = 10**7  # day number from which MOVED_PRACTICE belongs to its new PCN

    @property
    def n_practices(self) -> int:
        return len(self.practice_code)

    def sub_icb_of_practice(self) -> np.ndarray:
        return self.pcn_sub_icb[self.practice_pcn]

    def pcn_at(self, practice: np.ndarray, days: np.ndarray) -> np.ndarray:
        """PCN index of each practice on each day (one practice changes PCN during the period)."""
        pcn = self.practice_pcn[practice]
        moved = (practice == MOVED_PRACTICE) & (days >= self.move_day)
        return np.where(moved, (pcn + len(SUB_ICBS)) % len(self.pcn_code), pcn)

    def trust_code(self, sub_icb: np.ndarray) -> np.ndarray:
        return np.array([f"RZ{i + 1}" for i in range(len(SUB_ICBS))], dtype=object)[sub_icb]

    def utc_code(self, sub_icb: np.ndarray) -> np.ndarray:
        return np.array([f"NZ{i + 1}A" for i in range(len(SUB_ICBS))], dtype=object)[sub_icb]


def build(scale: float = 1.0) -> Geography:
    rng = np.random.default_rng(20240401)
    n_pcn = len(PCN_POPULATIONS_K)
    pcn_sub = np.arange(n_pcn) % len(SUB_ICBS)
    codes, names, p_pcn, p_list, p_dep = [], [], [], [], []
    for k, pop_k in enumerate(PCN_POPULATIONS_K):
        pop = int(pop_k * 1000 * scale)
        n = max(2, round(pop / PRACTICE_SIZE))
        share = rng.dirichlet(np.full(n, 4.0))
        sizes = np.floor(share * pop).astype(int)
        sizes[0] += pop - sizes.sum()
        for size in sizes:
            i = len(codes)
            codes.append(f"Z{10001 + i * 7:05d}")
            # Some names carry a comma: the landing CSV must quote them.
            names.append(f"{SUB_ICBS[pcn_sub[k]][1]} Surgery {i + 1}" if i % 3 else
                         f"The Health Centre, {SUB_ICBS[pcn_sub[k]][1]} {i + 1}")
            p_pcn.append(k)
            p_list.append(int(size))
            p_dep.append(float(np.clip(SUB_ICB_DEPRIVATION[pcn_sub[k]] + rng.normal(0, 1.2), 1.5, 9.5)))
    n_pr = len(codes)
    lsoa_code = np.empty((n_pr, LSOAS_PER_PRACTICE), dtype=object)
    lsoa_dec = np.zeros((n_pr, LSOAS_PER_PRACTICE), dtype=np.int64)
    for i in range(n_pr):
        for j in range(LSOAS_PER_PRACTICE):
            lsoa_code[i, j] = f"E01{100000 + i * LSOAS_PER_PRACTICE + j:06d}"
        lsoa_dec[i] = np.clip(np.rint(p_dep[i] + rng.normal(0, 1.6, LSOAS_PER_PRACTICE)), 1, 10)
    return Geography(
        practice_code=codes, practice_name=names, practice_pcn=np.array(p_pcn),
        practice_list=np.array(p_list), practice_dep=np.array(p_dep),
        pcn_code=[f"U9{k * 37 + 1001:04d}" for k in range(n_pcn)],
        pcn_name=[f"{SUB_ICBS[pcn_sub[k]][1]} PCN {k + 1}" for k in range(n_pcn)],
        pcn_sub_icb=pcn_sub, pcn_wemwbs=(np.arange(n_pcn) % 5 == 4),
        lsoa_code=lsoa_code, lsoa_decile=lsoa_dec,
    )


def total_list(scale: float = 1.0) -> int:
    return int(sum(int(k * 1000 * scale) for k in PCN_POPULATIONS_K))


def fy_boundaries(start: date, end: date) -> list[date]:
    """Row validity periods for `practices`: the data start, then every 1 April before the end."""
    out = [start]
    d = date(start.year if start.month < 4 else start.year + 1, 4, 1)
    while d < end:
        if d > start:
            out.append(d)
        d = add_months(d, 12)
    return out


def practice_rows(geo: Geography, start: date, end: date) -> list[dict]:
    """One row per practice and financial-year period (list sizes grow; one practice changes PCN)."""
    periods = fy_boundaries(start, end)
    rows = []
    for i, code in enumerate(geo.practice_code):
        for p, eff_from in enumerate(periods):
            eff_to = periods[p + 1] if p + 1 < len(periods) else None
            pcn = geo.practice_pcn[i]
            if i == MOVED_PRACTICE and p >= 2:
                pcn = (pcn + len(SUB_ICBS)) % len(geo.pcn_code)  # same sub-ICB, next PCN
            sub = geo.pcn_sub_icb[pcn]
            icb = sub // 2
            region = icb // 2
            rows.append({
                "practice_code": code, "practice_name": geo.practice_name[i],
                "pcn_code": geo.pcn_code[pcn], "pcn_name": geo.pcn_name[pcn],
                "sub_icb_code": SUB_ICBS[sub][0], "sub_icb_name": f"NHS {SUB_ICBS[sub][1]} sub-ICB",
                "icb_code": ICBS[icb][0], "icb_name": ICBS[icb][1],
                "region_code": REGIONS[region][0], "region_name": REGIONS[region][1],
                "list_size": str(round(geo.practice_list[i] * (1 + LIST_GROWTH) ** p)),
                "effective_from": eff_from.isoformat(),
                "effective_to": eff_to.isoformat() if eff_to else "",
            })
    return rows


def arrs_entitlement(population: int) -> int:
    if population < 30_000:
        return 0
    if population <= 100_000:
        return 1
    return 2 + (population - 100_000) // 50_000


def pcn_population(rows: list[dict], pcn: str, month: date) -> int:
    return sum(int(r["list_size"]) for r in rows if r["pcn_code"] == pcn
               and r["effective_from"] <= month.isoformat()
               and (not r["effective_to"] or month.isoformat() < r["effective_to"]))


def workforce_rows(geo: Geography, practices: list[dict], months: list[date], service_start: date) -> list[dict]:
    """Link-worker WTE per PCN-month from the service start: ramps towards entitlement, with vacancies."""
    rng = np.random.default_rng(20190701)
    rows = []
    live = [m for m in months if m >= service_start]
    for k, pcn in enumerate(geo.pcn_code):
        for t, month in enumerate(live):
            ent = arrs_entitlement(pcn_population(practices, pcn, month))
            ramp = min(1.0, 0.6 + 0.4 * t / 24)
            base = ent if ent else (0.6 if k % 2 else 0.0)  # some small PCNs share a link worker
            wte = max(0.0, round(base * ramp + rng.normal(0, 0.15), 1)) if base else 0.0
            rows.append({"pcn_code": pcn, "month": month.isoformat(), "wte": f"{wte:.1f}",
                         "headcount": str(int(np.ceil(wte / 0.85))), "funding": "ARRS"})
            if k % 4 == 3:  # locally funded posts beside ARRS
                rows.append({"pcn_code": pcn, "month": month.isoformat(), "wte": "0.4", "headcount": "1",
                             "funding": "other"})
    return rows
