"""Activity of one chunk of patients: latent need, GP/A&E/inpatient events, referrals, planted effect.

Counts are Poisson per patient-month at rate = base x patient multipliers x winter seasonality x
episode multiplier; each event gets a uniform day in its month and is kept only while the patient is
registered and alive. Referral hazard rises with the patient's realised use in the preceding months,
so referred patients tend to be in a transient episode: before/after figures regress to the mean.
Engaged index patients lose a fixed fraction of GP (hcp GP), A&E and emergency events for 12 months
(thinning), which is the planted effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spw.synth import params as P
from spw.synth.geography import Geography
from spw.synth.population import DAYS_PER_YEAR, Patients, _ages, _ltc
from spw.synth.timeline import NEVER, Timeline, add_months, day_number, from_day

SERVICES = ("gp", "ae", "emergency", "elective")
MEASURES = ("gp_appointments", "ae_attendances", "emergency_admissions")
WINDOWS = (6, 12)
PRACTICE_STREAM = 10**6  # spawn key of the practice-effects stream (chunks use 0, 1, ...)


MEASURE_SERVICE = {"gp_appointments": "gp", "ae_attendances": "ae", "emergency_admissions": "emergency"}


def measure_multipliers(p: P.SynthParams) -> dict[str, float]:
    """Planted rate multiplier while engaged, per measure."""
    return {m: p.multiplier(s) for m, s in MEASURE_SERVICE.items()}


UNKNOWN_STATUS_P = 0.03  # appointments with status Unknown


def p_dna(age: np.ndarray, imd: np.ndarray) -> np.ndarray:
    """Did-not-attend probability: higher for young adults and in deprived areas."""
    dep = np.where(imd > 0, np.maximum(5.5 - imd, 0), 0.0)
    return 0.03 + 0.006 * dep + 0.02 * ((age >= 16) & (age < 35))


def p_attended(pt: Patients) -> np.ndarray:
    return 1 - p_dna(pt.age, pt.imd) - UNKNOWN_STATUS_P


def calibrate(p: P.SynthParams) -> dict[str, float]:
    """Base rate per person-year for each service so that a reference population meets the targets."""
    rng = np.random.default_rng(7)
    age = _ages(rng, 200_000)
    imd = rng.integers(1, 11, size=age.size)
    ltc = _ltc(rng, age, imd)
    share = P.stationary_episode_share(p)
    targets = {"gp": p.target_practice_appointments, "ae": p.target_ae, "emergency": p.target_emergency,
               "elective": p.target_elective}
    base = {}
    for s in SERVICES:
        r: P.Rates = getattr(p, s)
        mean = P.relative_rate(r, age, ltc, imd).mean() * (1 + share * (r.episode_mult - 1))
        base[s] = targets[s] / mean
    return base


@dataclass
class Context:
    tl: Timeline
    geo: Geography
    p: P.SynthParams
    base: dict[str, float]
    service_start: int  # first month index with referrals
    resub_month: int
    resub_practice: np.ndarray  # bool per practice: rows re-sent corrected in the resubmission
    practice_mult: np.ndarray | None = None  # (practices, months) rate multiplier; None = all 1
    patients_file: str = ""
    counters: dict[str, int] = field(default_factory=lambda: {"appointment": 0, "ec": 0, "spell": 0,
                                                                "referral": 0, "assessment": 0})

    def next_ids(self, kind: str, n: int) -> range:
        start = self.counters[kind]
        self.counters[kind] = start + n
        return range(start + 1, start + n + 1)


@dataclass
class Events:
    pat: np.ndarray
    day: np.ndarray

    def take(self, keep: np.ndarray) -> Events:
        return Events(self.pat[keep], self.day[keep])


def practice_effects(seed: int, n_practices: int, months: int, p: P.SynthParams) -> np.ndarray | None:
    """Practice x month rate multipliers (mean 1) from their own stream, so chunks' streams are unchanged."""
    if p.practice_sd <= 0 and p.practice_month_sd <= 0:
        return None
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PRACTICE_STREAM,)))
    level = rng.normal(-p.practice_sd**2 / 2, p.practice_sd, size=(n_practices, 1))
    shock = rng.normal(-p.practice_month_sd**2 / 2, p.practice_month_sd, size=(n_practices, months))
    return np.exp(level + shock)


def episodes(rng: np.random.Generator, pt: Patients, p: P.SynthParams, months: int) -> np.ndarray:
    dep = np.where(pt.imd > 0, 5.5 - pt.imd, 0.0)
    onset = np.minimum(p.episode_onset * (1 + 0.1 * pt.ltc) * (1 + 0.05 * dep), 0.2)
    if p.episode_months <= 1:  # independent episode months
        return rng.random((len(pt), months)) < onset[:, None]
    off = 1.0 / p.episode_months
    state = rng.random(len(pt)) < onset / (onset + off)
    out = np.empty((len(pt), months), dtype=bool)
    for m in range(months):
        if m:
            u = rng.random(len(pt))
            state = np.where(state, u >= off, u < onset)
        out[:, m] = state
    return out


def monthly_rates(ctx: Context, pt: Patients, ep: np.ndarray, service: str) -> np.ndarray:
    """Expected events per patient-month (before registration limits and the planted effect)."""
    r: P.Rates = getattr(ctx.p, service)
    frailty = pt.frailty[:, SERVICES.index(service)]
    per_year = ctx.base[service] * P.relative_rate(r, pt.age, pt.ltc, pt.imd) * frailty
    month_no = np.array([m.month for m in ctx.tl.months])
    per_month = (ctx.tl.lengths / DAYS_PER_YEAR) * P.seasonal(r, month_no)
    lam = per_year[:, None] * per_month[None, :]
    if r.episode_mult != 1.0:
        lam = np.where(ep, lam * r.episode_mult, lam)
    if ctx.practice_mult is not None:
        lam = lam * ctx.practice_mult[pt.practice]
    return lam


def draw(rng: np.random.Generator, lam: np.ndarray, tl: Timeline, pt: Patients) -> Events:
    counts = rng.poisson(lam)
    cell = np.repeat(np.arange(lam.size, dtype=np.int64), counts.ravel())
    pat, mon = np.divmod(cell, lam.shape[1])
    day = tl.bounds[mon] + (rng.random(cell.size) * tl.lengths[mon]).astype(np.int64)
    active = (day >= pt.reg_start[pat]) & (day <= pt.reg_end[pat])
    return Events(pat[active], day[active])


def month_counts(ev: Events, tl: Timeline, n: int) -> np.ndarray:
    cell = ev.pat * tl.n_months + tl.month_of(ev.day)
    return np.bincount(cell, minlength=n * tl.n_months).reshape(n, tl.n_months)


@dataclass
class Referrals:
    pat: np.ndarray
    day: np.ndarray
    index: np.ndarray  # bool: the patient's first referral
    outcome: np.ndarray  # index into OUTCOMES
    first_contact: np.ndarray  # day or NEVER
    discharge: np.ndarray
    contacts: np.ndarray


def typical_use(p: P.SynthParams) -> float:
    """Recent use (GP + weighted A&E and emergency events over the look-back) of an average person."""
    return p.referral_lookback_months / 12 * (p.target_practice_appointments + p.referral_weight_ae * p.target_ae
                                             + p.referral_weight_emergency * p.target_emergency)


def recent_use(use: np.ndarray, look: int) -> np.ndarray:
    """(patients, months): weighted use over the `look` months before each month."""
    cum = np.concatenate([np.zeros((use.shape[0], 1)), np.cumsum(use, axis=1)], axis=1)
    start = np.maximum(0, np.arange(use.shape[1]) - look)
    return cum[:, :-1] - cum[:, start]


def use_dependent_exits(rng: np.random.Generator, ctx: Context, pt: Patients, use: np.ndarray) -> None:
    """Ends registration (death or leaving) earlier for patients whose recent use is high; edits `pt`.

    Drawn month by month from the untreated use, so need (not the planted effect) drives who leaves.
    """
    p, tl, n = ctx.p, ctx.tl, len(pt)
    if p.exit_rate <= 0:
        return
    rel = (1 + recent_use(use, p.referral_lookback_months)) / (1 + typical_use(p))
    hazard = np.minimum(p.exit_rate / 12 * rel**p.exit_use_power, 0.5)
    u = rng.random((n, tl.n_months))
    day = tl.bounds[:-1][None, :] + (rng.random((n, tl.n_months)) * tl.lengths[None, :]).astype(np.int64)
    hit = (u < hazard) & (day >= pt.reg_start[:, None]) & (day <= pt.reg_end[:, None])
    first = np.where(hit.any(axis=1), day[np.arange(n), hit.argmax(axis=1)], NEVER)
    exits = first < NEVER
    dies = exits & (rng.random(n) < p.exit_death_share)
    pt.death = np.where(dies, first, pt.death)
    pt.reg_end = np.where(exits, first, pt.reg_end)


def engage_probability(pt: Patients, pat: np.ndarray, p: P.SynthParams) -> np.ndarray | float:
    """Probability that a referral of patient `pat` leads to engagement (frailty-dependent if asked)."""
    if p.engage_frailty_slope == 0:
        return p.engage_p
    logit = np.log(p.engage_p / (1 - p.engage_p)) + p.engage_frailty_slope * np.log(pt.frailty[pat]).mean(axis=1)
    return 1 / (1 + np.exp(-logit))


def index_referrals(rng: np.random.Generator, ctx: Context, pt: Patients, use: np.ndarray) -> np.ndarray:
    """Day of each patient's index referral (NEVER if none); hazard rises with recent realised use."""
    p, tl, n = ctx.p, ctx.tl, len(pt)
    typical = typical_use(p)
    recent_all = recent_use(use, p.referral_lookback_months)
    dep = np.where(pt.imd > 0, 5.5 - pt.imd, 0.0)
    person = (pt.age >= 16) * (1 + 0.05 * dep) * np.where(pt.age >= 65, 1.2, 1.0)
    out = np.full(n, NEVER, dtype=np.int64)
    for m in range(ctx.service_start, tl.n_months):
        recent = recent_all[:, m]
        hazard = p.referral_rate / 12 * person * ((1 + recent) / (1 + typical)) ** p.referral_use_power
        hit = (out == NEVER) & (rng.random(n) < np.minimum(hazard, 0.5))
        day = tl.bounds[m] + (rng.random(n) * tl.lengths[m]).astype(np.int64)
        ok = hit & (day >= pt.reg_start) & (day <= pt.reg_end)
        out[ok] = day[ok]
    return out


def referral_details(rng: np.random.Generator, ctx: Context, pt: Patients, idx_day: np.ndarray) -> Referrals:
    """Index referrals plus re-referrals, with outcome, contact dates and counts as at extraction."""
    p, last = ctx.p, ctx.tl.last_day
    first = np.flatnonzero(idx_day < NEVER)
    again = first[rng.random(first.size) < p.rereferral_p]
    re_day = idx_day[again] + rng.integers(120, 600, size=again.size)
    ok = (re_day <= last) & (re_day <= pt.reg_end[again])
    pat = np.concatenate([first, again[ok]])
    day = np.concatenate([idx_day[first], re_day[ok]])
    is_index = np.arange(pat.size) < first.size
    k = pat.size
    engaged = rng.random(k) < engage_probability(pt, pat, p)
    other = rng.choice([2, 3, 4], size=k, p=[0.4, 0.42, 0.18])
    outcome = np.where(engaged, 0, other)
    wait = 1 + rng.geometric(0.1, size=k)
    first_contact = day + wait
    no_contact = (outcome == 3) & (rng.random(k) < 0.6)
    first_contact = np.where(no_contact, NEVER, first_contact)
    length = 30 + rng.gamma(3.0, 30.0, size=k).astype(np.int64)
    discharge = np.select(
        [outcome == 0, outcome == 2, outcome == 3, outcome == 4],
        [first_contact + length, first_contact, day + rng.integers(28, 71, size=k),
         first_contact + rng.integers(0, 15, size=k)])
    contacts = np.select([outcome == 0, outcome == 2, outcome == 3, outcome == 4],
                         [2 + rng.poisson(5, size=k), np.ones(k, np.int64),
                          np.where(no_contact, 0, 1), 1 + rng.integers(0, 2, size=k)])
    # As at extraction: engagement still running at the cut-off is `ongoing`.
    running = (outcome == 0) & (discharge > last)
    elapsed = np.clip((last - first_contact) / np.maximum(length, 1), 0, 1)
    contacts = np.where(running, np.maximum(np.ceil(contacts * elapsed), first_contact <= last), contacts)
    outcome = np.where(running, 1, outcome)
    first_contact = np.where(first_contact > last, NEVER, first_contact)
    discharge = np.where(discharge > last, NEVER, discharge)
    contacted = first_contact < NEVER
    discharge = np.where(discharge == NEVER, NEVER,
                         np.maximum(discharge, np.where(contacted, first_contact, day)))
    contacts = np.where(first_contact == NEVER, 0, contacts).astype(np.int64)
    order = np.lexsort((pat, day))
    return Referrals(pat[order], day[order], is_index[order], outcome[order], first_contact[order],
                     discharge[order], contacts[order])


def effect_end(idx_day: np.ndarray, months: int) -> np.ndarray:
    """Last day (inclusive) of the planted effect: index + `months` calendar months."""
    out = np.full(idx_day.size, -NEVER, dtype=np.int64)
    for i in np.flatnonzero(idx_day < NEVER):
        out[i] = day_number(add_months(from_day(idx_day[i]), months))
    return out


def thin(rng: np.random.Generator, ev: Events, target: np.ndarray, idx_day: np.ndarray, end: np.ndarray,
         multiplier: float) -> np.ndarray:
    """Mask of targeted events inside (index, end] dropped with probability 1 - multiplier."""
    inside = target & (ev.day > idx_day[ev.pat]) & (ev.day <= end[ev.pat])
    return inside & (rng.random(ev.pat.size) >= multiplier)


def window_integral(lam: np.ndarray, rows: np.ndarray, a: np.ndarray, b: np.ndarray, tl: Timeline) -> np.ndarray:
    """Expected events of patients `rows` over days [a, b), rates piecewise constant by month."""
    cum = np.concatenate([np.zeros((lam.shape[0], 1)), np.cumsum(lam, axis=1)], axis=1)

    def upto(d: np.ndarray) -> np.ndarray:
        d = np.clip(d, tl.bounds[0], tl.bounds[-1])
        m = np.minimum(np.searchsorted(tl.bounds, d, side="right") - 1, tl.n_months - 1)
        return cum[rows, m] + lam[rows, m] * (d - tl.bounds[m]) / tl.lengths[m]

    return upto(b) - upto(a)
