"""Staggered difference-in-differences (methods §4b, intervals §4c) on arrays: the numpy reference.

The warehouse computes the same estimates in SQL (`marts.mart_staggered_did`); the tests hold the two
equal, and the calibration study (benchmarks/) runs this module on the generator's arrays.

API
---
Months are integer indexes 0 .. T-1 of consecutive calendar months (the caller maps dates to them).
Patients are rows 0 .. n-1.

`Panel` (per patient; every array has length n, or shape (n, T) where "per month" is allowed):

- ``stratum``: int, shape (n,) or (n, T). Column m is the patient's stratum if month m were the cohort
  month g (methods §4b: sex x 10-year age band at g x IMD quintile x sub-ICB of practice at g). Only
  equality matters. Ignored in package-compatible mode (one stratum).
- ``practice``: int index into ``practice_codes``, shape (n,) or (n, T): the practice of a treated
  patient at its cohort month and of a control at the cell's month (its variance cluster).
- ``practice_codes``: sequence of str; the bootstrap multipliers are drawn from md5(code || draw).
- ``first_referral``: int, G_i, the month of the first referral; -1 = never referred by the cut-off.
- ``first_month`` / ``last_month``: int, the first and last month the patient is registered and alive
  for the whole month (registration start <= first day; registration end >= last day; death after the
  last day). A patient is in the panel of cohort g when first_month <= g - 15 and last_month >= g + 12.
- ``engaged``: bool, the index referral's outcome was engaged or ongoing (only read for referred).
- ``cutoff_month``: int, the month of the data cut-off (cohorts need g + 12 <= cutoff_month).

`estimate(panel, y, group=None, mode="strata", anticipation=3, base_months=12, draws=999)` takes ``y``, a
dense (n, T) array or a scipy.sparse matrix of monthly counts of one measure (y_im), and ``group``, an
optional bool mask (n,) of the treated patients the estimate is for (a geography and/or financial year:
cohorts are always the patients' own G, controls always the whole panel). It returns `Estimates`:

- ``event_months`` (-15 .. 12), ``theta`` (theta_e per patient in that month), ``se_boot`` (bootstrap
  SE), ``ci_low``/``ci_high`` (theta_e +- t(G-1) * se_boot), ``band_low``/``band_high`` (uniform sup-t
  band);
- cumulative 12-month ``att`` (sum of theta_e, e = 1..12), ``att_se`` (practice-clustered influence
  function), ``att_ci``, ``att_pct`` and its interval (delta method), ``base_mean``, ``pretrend_p``;
- counts ``n_treated``, ``n_unmatched``, ``n_control_patients``, ``n_clusters``;
- ``engaged``: the same for the complier effect (theta / engaged share, delta method), with
  ``engaged_share``;
- ``att_gt``: {(g, m): ATT(g, m)} for every cohort used (the package-compatible comparison);
- ``treated_rows`` / ``treated_cohort``: the treated patients the estimate is built from and their G (the
  calibration study sums the planted truth over exactly these).

Intervals and band are None with fewer than 20 practices (methods §4c). `estimate_all` loops over
groups. Every reading of the spec this implements is listed in docs/methods.md ("Staggered design").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from spw.estimators.matched import MonthPanel

MIN_PRACTICES = 20
EFFECT_MONTHS = 12
LEVEL = 0.95


@dataclass(frozen=True)
class Panel:
    stratum: np.ndarray
    practice: np.ndarray
    practice_codes: Sequence[str]
    first_referral: np.ndarray
    first_month: np.ndarray
    last_month: np.ndarray
    engaged: np.ndarray
    cutoff_month: int

    @property
    def n(self) -> int:
        return int(self.first_referral.shape[0])


@dataclass
class Summary:
    """One population's estimates (referred, or engaged)."""

    theta: np.ndarray
    se_boot: np.ndarray | None
    ci_low: np.ndarray | None
    ci_high: np.ndarray | None
    band_low: np.ndarray | None
    band_high: np.ndarray | None
    att: float
    att_se: float | None
    att_ci_low: float | None
    att_ci_high: float | None
    base_mean: float
    att_pct: float | None
    att_pct_ci_low: float | None
    att_pct_ci_high: float | None
    pretrend_p: float | None


@dataclass
class Estimates:
    event_months: np.ndarray
    n_treated: int
    n_unmatched: int
    n_control_patients: int
    n_clusters: int
    referred: Summary | None
    engaged: Summary | None
    engaged_share: float | None
    att_gt: dict[tuple[int, int], float] = field(default_factory=dict)
    treated_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # used treated patients
    treated_cohort: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # their G


def from_month_panel(mp: MonthPanel, engaged: np.ndarray) -> Panel:
    """A month panel (e.g. the generator's arrays) as the staggered design's `Panel`: strata per month,
    practice codes P0000.., cut-off = the last month of the counts."""
    n_months = mp.counts["gp_appointments"].shape[1]
    codes = [f"P{i:04d}" for i in range(int(mp.practice.max()) + 1)]
    return Panel(stratum=np.stack([mp.stratum(m) for m in range(n_months)], axis=1), practice=mp.practice,
                 practice_codes=codes, first_referral=mp.ref_month, first_month=mp.first_full,
                 last_month=mp.last_full, engaged=engaged, cutoff_month=n_months - 1)


def multipliers(codes: Sequence[str], draws: int = 999) -> np.ndarray:
    """(draws, practices) of +-1: +1 when the first hex digit of md5(code || draw) is 0-7 (draw = 1..B)."""
    out = np.empty((draws, len(codes)))
    for p, code in enumerate(codes):
        for b in range(1, draws + 1):
            out[b - 1, p] = 1.0 if hashlib.md5(f"{code}{b}".encode()).hexdigest()[0] < "8" else -1.0
    return out


def t_quantile(df: int) -> float:
    return float(stats.t.ppf(0.5 + LEVEL / 2, df))


def _column(a: np.ndarray, m: int) -> np.ndarray:
    return a if a.ndim == 1 else a[:, m]


def _dense(y) -> np.ndarray:
    return np.asarray(y.toarray() if hasattr(y, "toarray") else y, dtype=float)


def _controls(mode: str, ref: np.ndarray, g: int, m: int, anticipation: int, base: int) -> np.ndarray:
    never = ref < 0
    if mode == "package_compatible":
        # csdid's not-yet-treated rule under a universal base: G > max(m, base) + anticipation, G != g
        return never | ((ref > max(m, base) + anticipation) & (ref != g))
    return never | (ref > max(m, g))


def _controls_by_month(mode: str, ref: np.ndarray, g: int, months: np.ndarray, anticipation: int,
                       base: int) -> np.ndarray:
    """(patients, months) mask: `_controls` for every month of `months` at once."""
    never = (ref < 0)[:, None]
    if mode == "package_compatible":
        return never | ((ref[:, None] > (np.maximum(months, base) + anticipation)[None, :]) & (ref != g)[:, None])
    return never | (ref[:, None] > np.maximum(months, g)[None, :])


def _by_practice_month(key: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """(keys, months) sums of values (patients, months) by each entry's key (a practice or a cell)."""
    n_e = values.shape[1]
    flat = (key * n_e + np.arange(n_e)[None, :]).ravel()
    return np.bincount(flat, weights=values.ravel().astype(float), minlength=n_keys * n_e).reshape(n_keys, n_e)


def estimate(panel: Panel, y, group: np.ndarray | None = None, mode: str = "strata", anticipation: int = 3,
             base_months: int = 12, draws: int = 999, boot: np.ndarray | None = None) -> Estimates:
    """Methods §4b/§4c estimates for one measure and one group of treated patients (see module doc)."""
    if mode not in ("strata", "package_compatible"):
        raise ValueError(f"mode must be 'strata' or 'package_compatible', not {mode!r}")
    y = np.asfortranarray(_dense(y))  # column order: each month is read for many patients
    n, T = y.shape
    lead = anticipation + base_months
    events = np.arange(-lead, EFFECT_MONTHS + 1)
    n_e = events.size
    n_p = len(panel.practice_codes)
    ref = np.asarray(panel.first_referral)
    in_group = np.ones(n, bool) if group is None else np.asarray(group, bool)
    practice = np.asarray(panel.practice)

    S = np.zeros((n_p, n_e))  # per practice: sum of psi for theta_e (not yet divided by N)
    S_base = np.zeros(n_p)  # treated: ybar_B (centred later)
    S_share = np.zeros(n_p)  # treated: engaged flag (centred later)
    S_eng_base = np.zeros(n_p)  # treated: engaged * ybar_B (centred later)
    n_tr_p = np.zeros(n_p)
    n_eng_p = np.zeros(n_p)
    total = np.zeros(n_e)
    base_total = eng_total = eng_base_total = 0.0
    N = n_unmatched = 0
    contributing = np.zeros(n_p, bool)
    controls_used = np.zeros(n, bool)
    att_gt: dict[tuple[int, int], float] = {}
    used_rows: list[np.ndarray] = []

    cohorts = np.unique(ref[(ref >= 0) & in_group])
    for g in cohorts:
        g = int(g)
        if g - lead < 0 or g + EFFECT_MONTHS >= T or g + EFFECT_MONTHS > panel.cutoff_month:
            continue
        in_panel = (panel.first_month <= g - lead) & (panel.last_month >= g + EFFECT_MONTHS)
        treated = in_panel & (ref == g) & in_group
        if not treated.any():
            continue
        if mode == "package_compatible":
            base_cols = [g - 1 - anticipation]
            strat = np.zeros(n, np.int64)
        else:
            base_cols = list(range(g - lead, g - anticipation))
            strat = _column(np.asarray(panel.stratum), g)
        base = g - 1 - anticipation
        # A cell is usable when it keeps a control in every month: control sets only shrink after g.
        last_ok = in_panel & _controls(mode, ref, g, g + EFFECT_MONTHS, anticipation, base)
        tr_idx = np.flatnonzero(treated)
        cells, inv = np.unique(strat[tr_idx], return_inverse=True)
        has_control = np.isin(cells, np.unique(strat[last_ok]))
        keep = has_control[inv]
        n_unmatched += int((~keep).sum())
        tr_idx, inv = tr_idx[keep], inv[keep]
        cells = cells[has_control]
        inv = np.searchsorted(cells, strat[tr_idx])
        if tr_idx.size == 0:
            continue
        n_gc = np.bincount(inv, minlength=cells.size).astype(float)
        n_g = tr_idx.size
        N += n_g
        used_rows.append(tr_idx)
        tr_p = _column(practice, g)[tr_idx]
        contributing[tr_p] = True
        ybar_t = y[np.ix_(tr_idx, base_cols)].mean(axis=1)
        np.add.at(n_tr_p, tr_p, 1.0)
        eng = np.asarray(panel.engaged, bool)[tr_idx].astype(float)
        np.add.at(n_eng_p, tr_p, eng)
        np.add.at(S_base, tr_p, ybar_t)
        np.add.at(S_share, tr_p, eng)
        np.add.at(S_eng_base, tr_p, eng * ybar_t)
        base_total += ybar_t.sum()
        eng_total += eng.sum()
        eng_base_total += (eng * ybar_t).sum()
        # Every month at once: candidate controls of the used cells x event months, masked by "still a
        # control in month m" (a patient's G decides it), then sums per cell and per (practice, month).
        months = g + events
        cand = np.flatnonzero(in_panel & np.isin(strat, cells) & (ref != g))
        cand_cell = np.searchsorted(cells, strat[cand])
        alive = _controls_by_month(mode, ref[cand], g, months, anticipation, base)
        d_c = (y[np.ix_(cand, months)] - y[np.ix_(cand, base_cols)].mean(axis=1)[:, None]) * alive
        cell_e = np.broadcast_to(cand_cell[:, None], alive.shape)
        m_gc = _by_practice_month(cell_e, alive, cells.size)
        dC = _by_practice_month(cell_e, d_c, cells.size) / m_gc
        d_t = y[np.ix_(tr_idx, months)] - ybar_t[:, None] - dC[inv]
        att = d_t.sum(axis=0) / n_g
        att_gt.update(zip(((g, int(m)) for m in months), att.tolist(), strict=True))
        total += d_t.sum(axis=0)
        S += _by_practice_month(np.broadcast_to(tr_p[:, None], d_t.shape), d_t - att, n_p)
        c_p = np.broadcast_to(practice[cand][:, None], alive.shape) if practice.ndim == 1 else practice[
            np.ix_(cand, months)]
        psi_c = -(n_gc[cand_cell][:, None] / m_gc[cand_cell]) * (d_c - dC[cand_cell] * alive)
        S += _by_practice_month(c_p, psi_c, n_p)
        contributing[c_p[alive]] = True
        controls_used[cand[alive.any(axis=1)]] = True

    est = Estimates(event_months=events, n_treated=N, n_unmatched=n_unmatched,
                    n_control_patients=int(controls_used.sum()), n_clusters=int(contributing.sum()),
                    referred=None, engaged=None, engaged_share=None, att_gt=att_gt)
    if used_rows:
        est.treated_rows = np.concatenate(used_rows)
        est.treated_cohort = ref[est.treated_rows]
    if N == 0:
        return est
    theta = total / N
    b = base_total / N
    psi_base = S_base - n_tr_p * b
    n_clusters = est.n_clusters
    if boot is None and n_clusters >= MIN_PRACTICES:
        boot = multipliers(panel.practice_codes, draws)
    placebo = events < -anticipation
    est.referred = _summary(theta, S, b, psi_base, N, n_clusters, contributing, events, placebo, boot)
    s = eng_total / N
    est.engaged_share = s
    if s > 0:
        b_eng = eng_base_total / eng_total
        psi_s = S_share - n_tr_p * s
        S_eng = S / s - np.outer(psi_s, theta) / s**2
        psi_b_eng = (S_eng_base - n_eng_p * b_eng) / s
        est.engaged = _summary(theta / s, S_eng, b_eng, psi_b_eng, N, n_clusters, contributing, events, placebo,
                               boot)
    return est


def _summary(theta: np.ndarray, S: np.ndarray, b: float, psi_b: np.ndarray, N: int, n_clusters: int,
             contributing: np.ndarray, events: np.ndarray, placebo: np.ndarray, boot: np.ndarray | None) -> Summary:
    post = (events >= 1) & (events <= EFFECT_MONTHS)
    att = float(theta[post].sum())
    psi_att = S[:, post].sum(axis=1)
    pct = 100 * att / (EFFECT_MONTHS * b) if b > 0 else None
    out = Summary(theta=theta, se_boot=None, ci_low=None, ci_high=None, band_low=None, band_high=None,
                  att=att, att_se=None, att_ci_low=None, att_ci_high=None, base_mean=b, att_pct=pct,
                  att_pct_ci_low=None, att_pct_ci_high=None, pretrend_p=None)
    if n_clusters < MIN_PRACTICES:
        return out
    Gc = n_clusters
    factor = Gc / (Gc - 1)
    q = t_quantile(Gc - 1)
    se = float(np.sqrt(factor * (psi_att**2).sum()) / N)
    out.att_se, out.att_ci_low, out.att_ci_high = se, att - q * se, att + q * se
    if pct is not None:
        psi_pct = 100 / (EFFECT_MONTHS * b) * (psi_att - (att / b) * psi_b)
        se_pct = float(np.sqrt(factor * (psi_pct**2).sum()) / N)
        out.att_pct_ci_low, out.att_pct_ci_high = pct - q * se_pct, pct + q * se_pct
    # Multiplier bootstrap over practices: T*_eb = sum_p v_pb S_pe / N.
    assert boot is not None
    v = boot[:, contributing]
    draws_ = v @ S[contributing] / N  # (B, n_e)
    se_e = np.sqrt(factor * (draws_**2).mean(axis=0))
    out.se_boot = se_e
    out.ci_low, out.ci_high = theta - q * se_e, theta + q * se_e
    ok = se_e > 0
    t_star = np.zeros_like(draws_)
    t_star[:, ok] = np.abs(draws_[:, ok]) * np.sqrt(factor) / se_e[ok]
    crit = _order_stat(t_star.max(axis=1))
    out.band_low = np.where(ok, theta - crit * se_e, theta)
    out.band_high = np.where(ok, theta + crit * se_e, theta)
    placebo = ok & placebo
    if placebo.any():
        observed = float((np.abs(theta[placebo]) / se_e[placebo]).max())
        sup = t_star[:, placebo].max(axis=1)
        out.pretrend_p = float((1 + (sup >= observed).sum()) / (sup.size + 1))
    return out


def _order_stat(values: np.ndarray) -> float:
    """The ceil(0.95 B)-th smallest of B values (the 950th of 999)."""
    k = int(np.ceil(LEVEL * values.size))
    return float(np.sort(values)[k - 1])


def estimate_all(panel: Panel, y, groups: dict[str, np.ndarray | None], **kwargs) -> dict[str, Estimates]:
    """`estimate` for each named group mask (bootstrap multipliers drawn once)."""
    draws = kwargs.pop("draws", 999)
    boot = multipliers(panel.practice_codes, draws)
    return {name: estimate(panel, y, mask, draws=draws, boot=boot, **kwargs) for name, mask in groups.items()}
