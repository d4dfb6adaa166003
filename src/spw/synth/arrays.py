"""The generator without files: per-patient monthly counts, registration, referral and truth as arrays.

The same population, need, referral and planted-effect model as `generator.generate`, drawn as counts per
patient-month instead of dated events (no CSVs, no identities), for studies that need hundreds of seeds
(benchmarks/calibrate.py). Months are the unit: a patient's window is whole calendar months, and the
planted effect of a month is the share of its days inside (index day, index + effect months].
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from spw.synth import activity as A
from spw.synth import geography, population
from spw.synth import params as P
from spw.synth.timeline import NEVER, Timeline, add_months, day_number, from_day

NO_REFERRAL = -1
AGE_BAND_TOP = 80  # 10-year age bands with 80+ as one band (methods §4, §4b)


@dataclass
class Arrays:
    """One seed's synthetic ICB at month resolution (n patients, M months)."""

    tl: Timeline
    counts: dict[str, np.ndarray]  # measure -> (n, M) observed counts (after the planted effect)
    effect: dict[str, np.ndarray]  # measure -> (n, M) expected counts removed by the effect (<= 0)
    first_full: np.ndarray  # first month the patient is registered for all of (M if none)
    last_full: np.ndarray  # last month the patient is registered and alive for all of (-1 if none)
    ref_month: np.ndarray  # month of the first referral, NO_REFERRAL if none
    engaged: np.ndarray  # index referral engaged or ongoing
    practice: np.ndarray
    sub_icb: np.ndarray  # of the practice (practices do not change sub-ICB)
    sex: np.ndarray
    yob: np.ndarray
    imd: np.ndarray  # 1..10, 0 unknown
    service_start: int  # first month with referrals

    @property
    def n(self) -> int:
        return self.practice.size

    @property
    def n_months(self) -> int:
        return self.tl.n_months

    def age_band(self, month: np.ndarray | int) -> np.ndarray:
        """10-year age band at a month (year of the month - year of birth), 80+ as one band."""
        year = np.array([m.year for m in self.tl.months])[month]
        return np.minimum(np.maximum(year - self.yob, 0), AGE_BAND_TOP) // 10

    def stratum(self, month: np.ndarray | int) -> np.ndarray:
        """Stratum id of sex x age band x IMD quintile x sub-ICB at a month (methods §4b)."""
        quintile = (self.imd + 1) // 2  # ceil(decile / 2); 0 = unknown
        return ((self.sex * 9 + self.age_band(month)) * 6 + quintile) * 64 + self.sub_icb


@lru_cache(maxsize=8)
def _base(p: P.SynthParams) -> dict[str, float]:
    return A.calibrate(p)


def month_overlap(tl: Timeline, start: np.ndarray, end_incl: np.ndarray) -> np.ndarray:
    """(n, M) share of each month's days inside [start, end_incl] (day numbers per patient)."""
    lo = np.maximum(start[:, None], tl.bounds[None, :-1])
    hi = np.minimum(end_incl[:, None] + 1, tl.bounds[None, 1:])
    return np.clip(hi - lo, 0, None) / tl.lengths[None, :]


def full_months(tl: Timeline, reg_start: np.ndarray, reg_end: np.ndarray, death: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """First and last month a patient is registered (and alive) for the whole month."""
    first = np.searchsorted(tl.bounds[:-1], reg_start, side="left")
    # Alive through a month's last day means dying after it; the death day ends registration too.
    last_day = np.minimum(reg_end, np.where(death < NEVER, death - 1, NEVER))
    last = np.searchsorted(tl.bounds[1:] - 1, last_day, side="right") - 1
    return first, last


def effect_share(tl: Timeline, idx_day: np.ndarray, treated: np.ndarray, months: int) -> np.ndarray:
    """(n, M) share of each month's days under the planted effect (index day, index + months]."""
    rows = np.flatnonzero(treated)
    share = np.zeros((idx_day.size, tl.n_months))
    if rows.size:
        end = np.array([day_number(add_months(from_day(d), months)) for d in idx_day[rows]], dtype=np.int64)
        share[rows] = month_overlap(tl, idx_day[rows] + 1, end)
    return share


def _binomial(rng: np.random.Generator, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    return rng.binomial(n, np.clip(p, 0.0, 1.0))


def simulate(patients: int, seed: int, p: P.SynthParams | None = None, start: date = date(2022, 4, 1),
             months: int = 42) -> Arrays:
    """One seed of the generator as month arrays (no files)."""
    p = p or P.SynthParams()
    tl = Timeline(start, add_months(start, months))
    geo = geography.build(max(1.0, patients / (0.8 * geography.total_list())))
    ctx = A.Context(tl=tl, geo=geo, p=p, base=_base(p), service_start=p.lead_in_months, resub_month=-1,
                    resub_practice=np.zeros(geo.n_practices, bool),
                    practice_mult=A.practice_effects(seed, geo.n_practices, tl.n_months, p))
    shape = (patients, tl.n_months)
    counts = {m: np.zeros(shape, np.int32) for m in A.MEASURES}
    effect = {m: np.zeros(shape, np.float32) for m in A.MEASURES}
    parts = []
    for k, first in enumerate(range(0, patients, p.chunk_size)):
        rows = slice(first, min(first + p.chunk_size, patients))
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
        parts.append(_chunk(rng, ctx, first, rows.stop - first, seed, counts, effect, rows))
    cat = {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
    return Arrays(tl=tl, counts=counts, effect=effect, service_start=ctx.service_start,
                  sub_icb=geo.sub_icb_of_practice()[cat["practice"]], **cat)


def _chunk(rng: np.random.Generator, ctx: A.Context, first: int, n: int, seed: int, counts: dict,
           effect: dict, rows: slice) -> dict:
    """Draws one chunk into `counts`/`effect` rows; returns its per-patient columns."""
    tl, p = ctx.tl, ctx.p
    pt = population.generate(rng, first, n, ctx.geo, tl, p, seed, "nhs_number")
    ep = A.episodes(rng, pt, p, tl.n_months)
    lam = {s: A.monthly_rates(ctx, pt, ep, s) for s in ("gp", "ae", "emergency")}
    registered = month_overlap(tl, pt.reg_start, pt.reg_end)
    drawn = {s: rng.poisson(lam[s] * registered) for s in lam}
    # The measure counts GP appointments with hcp GP that were attended (generator._gp_attributes).
    gp_share = P.HCP_P[0] * A.p_attended(pt)[:, None]
    use = drawn["gp"] + p.referral_weight_ae * drawn["ae"] + p.referral_weight_emergency * drawn["emergency"]
    if p.exit_rate > 0:
        A.use_dependent_exits(rng, ctx, pt, use)
        kept = month_overlap(tl, pt.reg_start, pt.reg_end) / np.maximum(registered, 1e-12)
        drawn = {s: _binomial(rng, c, kept) for s, c in drawn.items()}
        registered = registered * kept
    measured = {"gp_appointments": _binomial(rng, drawn["gp"], np.broadcast_to(gp_share, drawn["gp"].shape)),
                "ae_attendances": drawn["ae"], "emergency_admissions": drawn["emergency"]}
    idx_day = A.index_referrals(rng, ctx, pt, use)
    referred = idx_day < NEVER
    engaged = referred & (rng.random(n) < A.engage_probability(pt, np.arange(n), p))
    treated = np.flatnonzero(engaged)
    share = effect_share(tl, idx_day[treated], np.ones(treated.size, bool), p.effect_months)
    expected = {"gp_appointments": lam["gp"] * gp_share, "ae_attendances": lam["ae"],
                "emergency_admissions": lam["emergency"]}
    for m, mult in A.measure_multipliers(p).items():
        drop = share * (1.0 - mult)
        measured[m][treated] -= _binomial(rng, measured[m][treated], drop)
        counts[m][rows] = measured[m]
        effect[m][rows.start + treated] = -drop * expected[m][treated] * registered[treated]
    first_full, last_full = full_months(tl, pt.reg_start, pt.reg_end, pt.death)
    ref_month = np.where(referred, tl.month_of(np.minimum(idx_day, tl.last_day)), NO_REFERRAL)
    return {"first_full": first_full, "last_full": last_full,
            "ref_month": ref_month, "engaged": engaged, "practice": pt.practice, "sex": pt.sex, "yob": pt.yob,
            "imd": pt.imd}
