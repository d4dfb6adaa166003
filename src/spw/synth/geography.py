"""ODS hierarchy of the synthetic area: regions, ICBs, sub-ICBs, PCNs, practices, providers, LSOAs.

Two layouts, both fixed (independent of the seed) so runs with different seeds are comparable:
- `icb` (`build`, the default and the tests' fixture): one synthetic ICB-sized area in two regions whose
  PCNs cross every ARRS band; `list_size` is the practice's full registered list and the generated
  patients are a sample of it.
- `england` (`build_england`, the demo): a scaled-down England, every NHS England region with its share
  of England's registered population, fewer and smaller ICBs, sub-ICBs, PCNs and practices, whose list
  sizes are the synthetic patients registered there (so rates per 1,000 and the pro-rata ambition read
  as they would for England).
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
    regions: tuple[tuple[str, str], ...]  # (code, name)
    icbs: tuple[tuple[str, str], ...]
    icb_region: np.ndarray  # region index of each ICB
    sub_icbs: tuple[tuple[str, str], ...]
    sub_icb_icb: np.ndarray  # ICB index of each sub-ICB
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
    moved_to_pcn: int = -1  # the PCN (same sub-ICB) MOVED_PRACTICE joins
    lists_are_registrations: bool = False  # england layout: list_size = synthetic patients registered

    @property
    def n_practices(self) -> int:
        return len(self.practice_code)

    def sub_icb_of_practice(self) -> np.ndarray:
        return self.pcn_sub_icb[self.practice_pcn]

    def pcn_at(self, practice: np.ndarray, days: np.ndarray) -> np.ndarray:
        """PCN index of each practice on each day (one practice changes PCN during the period)."""
        pcn = self.practice_pcn[practice]
        moved = (practice == MOVED_PRACTICE) & (days >= self.move_day)
        return np.where(moved, self.moved_to_pcn, pcn)

    @property
    def n_sub_icbs(self) -> int:
        return len(self.sub_icbs)

    def trust_code(self, sub_icb: np.ndarray) -> np.ndarray:
        return np.array([_org_code("RZ", i) for i in range(self.n_sub_icbs)], dtype=object)[sub_icb]

    def utc_code(self, sub_icb: np.ndarray) -> np.ndarray:
        return np.array([_org_code("NZ", i) + "A" for i in range(self.n_sub_icbs)], dtype=object)[sub_icb]


def _org_code(prefix: str, i: int) -> str:
    """RZ1 .. RZ9 as before, then RZA .. RZZ, then RZ10 ..: ODS-shaped (3-5 characters), never real."""
    if i < 9:
        return f"{prefix}{i + 1}"
    if i < 9 + 26:
        return f"{prefix}{chr(ord('A') + i - 9)}"
    return f"{prefix}{i + 1:02d}"


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
            names.append(_practice_name(i, SUB_ICBS[pcn_sub[k]][1]))
            p_pcn.append(k)
            p_list.append(int(size))
            p_dep.append(float(np.clip(SUB_ICB_DEPRIVATION[pcn_sub[k]] + rng.normal(0, 1.2), 1.5, 9.5)))
    lsoa_code, lsoa_dec = _lsoas(rng, p_dep)
    return Geography(
        regions=REGIONS, icbs=ICBS, icb_region=np.arange(len(ICBS)) // 2,
        sub_icbs=SUB_ICBS, sub_icb_icb=np.arange(len(SUB_ICBS)) // 2,
        practice_code=codes, practice_name=names, practice_pcn=np.array(p_pcn),
        practice_list=np.array(p_list), practice_dep=np.array(p_dep),
        pcn_code=[f"U9{k * 37 + 1001:04d}" for k in range(n_pcn)],
        pcn_name=[f"{SUB_ICBS[pcn_sub[k]][1]} PCN {k + 1}" for k in range(n_pcn)],
        pcn_sub_icb=pcn_sub, pcn_wemwbs=(np.arange(n_pcn) % 5 == 4),
        lsoa_code=lsoa_code, lsoa_decile=lsoa_dec, moved_to_pcn=int((p_pcn[MOVED_PRACTICE] + len(SUB_ICBS)) % n_pcn),
    )


# The england layout: NHS England regions (real codes: the BI logins are keyed on them) with their rough
# share of England's registered population (millions, 2024) and how many synthetic ICBs each has; ICB,
# sub-ICB, PCN and practice codes and names are made up (ODS-shaped, never real organisations).
ENGLAND_REGIONS = (("Y56", "London", 10.6, 2), ("Y58", "South West", 6.1, 2), ("Y59", "South East", 9.5, 3),
                   ("Y60", "Midlands", 11.3, 4), ("Y61", "East of England", 7.0, 2),
                   ("Y62", "North West", 8.0, 2), ("Y63", "North East and Yorkshire", 8.9, 3))
ENGLAND_PLACES = ("Ashvale", "Brindlecombe", "Calderfold", "Dunmere", "Elmsbrook", "Fenmarch", "Greyhaven",
                  "Hollinmoor", "Ivybridge Vale", "Kestlecote", "Larkhill Downs", "Marrowdale", "Northwold",
                  "Oakenshaw Fields", "Pellingham", "Quarrybank", "Ravensholt", "Stonebridge Moor")
# PCNs (England has about 1,250) and practices per PCN (England: about 5); list sizes scale with the
# number of patients. Practices are few because the staggered DiD's bootstrap and group models grow
# with practices x areas, not with patients (docs/benchmarks.md, "Demo size").
ENGLAND_PCNS = 80
ENGLAND_PRACTICES_PER_PCN = 3
ENGLAND_PEOPLE_PER_WTE = 12_500  # link-worker WTE in post per registered population, once fully staffed


def build_england(patients: int) -> Geography:
    """A scaled-down England of about `patients` registered patients: every region, fixed numbers of ICBs
    (ENGLAND_REGIONS), sub-ICBs (two in every other ICB, else one), PCNs and practices, with sizes in
    proportion to the patients; list sizes are set from the patients actually registered (generator)."""
    rng = np.random.default_rng(20240402)
    icb_names = iter(ENGLAND_PLACES)
    regions, icbs, icb_region, subs, sub_icb, sub_pop = [], [], [], [], [], []
    total = sum(r[2] for r in ENGLAND_REGIONS)
    for r, (code, name, millions, n_icbs) in enumerate(ENGLAND_REGIONS):
        regions.append((code, name))
        region_pop = patients * millions / total
        for icb_share in rng.dirichlet(np.full(n_icbs, 8.0)):
            i = len(icbs)
            place = next(icb_names)
            icbs.append((f"QZ{'123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'[i]}", f"NHS {place} ICB"))
            icb_region.append(r)
            parts = ("North", "South") if i % 2 == 0 else ("",)
            for j, part in enumerate(parts):
                subs.append((f"Z{'123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'[i]}{'AB'[j]}",
                             f"{place} {part}".strip()))
                sub_icb.append(i)
                sub_pop.append(region_pop * icb_share / len(parts))
    sub_pop_a = np.asarray(sub_pop)
    sub_dep = np.clip(rng.normal(5.5, 1.8, len(subs)), 2.5, 8.5)  # mean IMD decile of each sub-ICB
    pcn_counts = np.maximum(2, np.rint(ENGLAND_PCNS * sub_pop_a / sub_pop_a.sum())).astype(int)
    codes, names, p_pcn, p_list, p_dep = [], [], [], [], []
    pcn_sub, pcn_names = [], []
    for s_i, n_pcn in enumerate(pcn_counts):
        for pcn_share in rng.dirichlet(np.full(n_pcn, 6.0)):
            k = len(pcn_sub)
            pcn_sub.append(s_i)
            pcn_names.append(f"{subs[s_i][1]} PCN {k + 1}")
            pop = sub_pop_a[s_i] * pcn_share
            n = int(max(2, rng.poisson(ENGLAND_PRACTICES_PER_PCN - 1) + 1))
            for size in rng.dirichlet(np.full(n, 4.0)) * pop:
                i = len(codes)
                codes.append(f"Z{10001 + i * 7:05d}")
                names.append(_practice_name(i, subs[s_i][1]))
                p_pcn.append(k)
                p_list.append(max(1.0, float(size)))
                p_dep.append(float(np.clip(sub_dep[s_i] + rng.normal(0, 1.2), 1.5, 9.5)))
    lsoa_code, lsoa_dec = _lsoas(rng, p_dep)
    pcn_sub_a = np.asarray(pcn_sub)
    p_pcn_a = np.asarray(p_pcn)
    # MOVED_PRACTICE joins another PCN of its sub-ICB (every sub-ICB has at least two)
    home = p_pcn_a[MOVED_PRACTICE]
    moved_to = int(next(k for k in range(len(pcn_sub)) if pcn_sub[k] == pcn_sub[home] and k != home))
    return Geography(
        regions=tuple(regions), icbs=tuple(icbs), icb_region=np.asarray(icb_region),
        sub_icbs=tuple(subs), sub_icb_icb=np.asarray(sub_icb),
        practice_code=codes, practice_name=names, practice_pcn=p_pcn_a,
        practice_list=np.asarray(p_list), practice_dep=np.asarray(p_dep),
        pcn_code=[f"U9{k * 37 + 1001:04d}" for k in range(len(pcn_sub))], pcn_name=pcn_names,
        pcn_sub_icb=pcn_sub_a, pcn_wemwbs=(np.arange(len(pcn_sub)) % 5 == 4),
        lsoa_code=lsoa_code, lsoa_decile=lsoa_dec, moved_to_pcn=moved_to, lists_are_registrations=True,
    )


def _practice_name(i: int, place: str) -> str:
    # Some names carry a comma: the landing CSV must quote them.
    return f"{place} Surgery {i + 1}" if i % 3 else f"The Health Centre, {place} {i + 1}"


def _lsoas(rng: np.random.Generator, practice_dep: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """LSOAS_PER_PRACTICE LSOA codes per practice and their IMD deciles around the practice's mean."""
    n_pr = len(practice_dep)
    lsoa_code = np.empty((n_pr, LSOAS_PER_PRACTICE), dtype=object)
    lsoa_dec = np.zeros((n_pr, LSOAS_PER_PRACTICE), dtype=np.int64)
    for i in range(n_pr):
        for j in range(LSOAS_PER_PRACTICE):
            lsoa_code[i, j] = f"E01{100000 + i * LSOAS_PER_PRACTICE + j:06d}"
        lsoa_dec[i] = np.clip(np.rint(practice_dep[i] + rng.normal(0, 1.6, LSOAS_PER_PRACTICE)), 1, 10)
    return lsoa_code, lsoa_dec


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


def practice_rows(geo: Geography, start: date, end: date, registered: np.ndarray | None = None) -> list[dict]:
    """One row per practice and financial-year period (one practice changes PCN). List sizes grow by
    LIST_GROWTH a year from the full list, or are `registered[practice, period]` (the synthetic patients
    registered on the period's first day) when given."""
    periods = fy_boundaries(start, end)
    rows = []
    for i, code in enumerate(geo.practice_code):
        for p, eff_from in enumerate(periods):
            eff_to = periods[p + 1] if p + 1 < len(periods) else None
            pcn = geo.practice_pcn[i]
            if i == MOVED_PRACTICE and p >= 2:
                pcn = geo.moved_to_pcn  # same sub-ICB, another PCN
            sub = geo.pcn_sub_icb[pcn]
            icb = geo.sub_icb_icb[sub]
            region = geo.icb_region[icb]
            size = registered[i, p] if registered is not None else geo.practice_list[i] * (1 + LIST_GROWTH) ** p
            rows.append({
                "practice_code": code, "practice_name": geo.practice_name[i],
                "pcn_code": geo.pcn_code[pcn], "pcn_name": geo.pcn_name[pcn],
                "sub_icb_code": geo.sub_icbs[sub][0], "sub_icb_name": f"NHS {geo.sub_icbs[sub][1]} sub-ICB",
                "icb_code": geo.icbs[icb][0], "icb_name": geo.icbs[icb][1],
                "region_code": geo.regions[region][0], "region_name": geo.regions[region][1],
                "list_size": str(round(size)),
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
    if geo.lists_are_registrations:
        return _scaled_workforce_rows(geo, practices, live, rng)
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


def _scaled_workforce_rows(geo: Geography, practices: list[dict], live: list[date],
                           rng: np.random.Generator) -> list[dict]:
    """england layout: WTE in proportion to the PCN's registered patients (ENGLAND_PEOPLE_PER_WTE once
    staffed, ramping up over two years, +-10%), so caseload per WTE reads as it would at full size; the
    ARRS bands (30,000+) are about full-size PCNs and give these small ones no entitlement."""
    rows = []
    for pcn in geo.pcn_code:
        for t, month in enumerate(live):
            ramp = min(1.0, 0.6 + 0.4 * t / 24)
            base = pcn_population(practices, pcn, month) / ENGLAND_PEOPLE_PER_WTE
            wte = max(0.0, round(base * ramp * (1 + rng.normal(0, 0.1)), 3))
            rows.append({"pcn_code": pcn, "month": month.isoformat(), "wte": f"{wte:.3f}",
                         "headcount": str(int(np.ceil(wte / 0.85))), "funding": "ARRS"})
    return rows
