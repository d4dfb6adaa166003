"""Matched comparison difference-in-differences, v2 (methods §4), on patient x month count arrays.

Months are the unit: an index patient referred in month t has pre window months t-W .. t-1 and post window
t+1 .. t+W (the index month is in neither); a candidate control has no referral in or before month t and is
registered and alive for all of months t-W .. t+W; in post month k it contributes only while its own
referral month is after t + k (still unreferred at the end of month k).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from spw.estimators.intervals import Interval, clustered

NO_REFERRAL = -1
# Exact-match bands on pre-window counts: upper-exclusive cut points (methods §4).
BANDS = {"gp_appointments": (1, 3, 6, 12), "emergency_admissions": (1, 2), "ae_attendances": (1, 2)}
CONTROLS_PER_CASE = 3


class MonthPanel(Protocol):
    """What the panel designs read: counts per patient-month, registration, referral, practice, stratum."""

    counts: Mapping[str, np.ndarray]  # measure -> (patients, months)
    first_full: np.ndarray  # first month registered for all of it
    last_full: np.ndarray  # last month registered and alive for all of it
    ref_month: np.ndarray  # month of first referral, NO_REFERRAL if none
    practice: np.ndarray  # 0 .. practices - 1
    stratum: Callable[[int], np.ndarray]  # stratum id of every patient at a month


def mix64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Deterministic 64-bit hash of pairs (splitmix64 finaliser of a combined key)."""
    with np.errstate(over="ignore"):
        x = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ b.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def window_sums(y: np.ndarray, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of y[row, lo .. hi - 1] per row (month bounds per row)."""
    cum = np.concatenate([np.zeros((rows.size, 1)), np.cumsum(y[rows], axis=1, dtype=float)], axis=1)
    r = np.arange(rows.size)
    return cum[r, hi] - cum[r, lo]


def eligible(panel: MonthPanel, t: int, w: int, n_months: int) -> np.ndarray:
    """Registered and alive for every month t-W .. t+W, inside the data (methods §1 at month resolution)."""
    if t - w < 0 or t + w > n_months - 1:
        return np.zeros(panel.practice.size, bool)
    return (panel.first_full <= t - w) & (panel.last_full >= t + w)


@dataclass(frozen=True)
class Matches:
    w: int
    index: np.ndarray  # rows of the eligible index patients
    t: np.ndarray  # their index months
    pair_index: np.ndarray  # position in `index` of each (index, control) pair
    pair_control: np.ndarray  # control row of each pair


def match(panel: MonthPanel, w: int, k: int = CONTROLS_PER_CASE) -> Matches:
    """Up to k controls per eligible index patient, chosen by the smallest hash of (index, control)."""
    n_months = panel.counts["gp_appointments"].shape[1]
    g = panel.ref_month
    cums = {m: np.cumsum(panel.counts[m], axis=1) for m in BANDS}
    index, t_of, pi, pc = [], [], [], []
    offset = 0
    for t in np.unique(g[g >= 0]):
        ok = eligible(panel, int(t), w, n_months)
        idx = np.flatnonzero(ok & (g == t))
        if not idx.size:
            continue
        cand = np.flatnonzero(ok & ((g == NO_REFERRAL) | (g > t)))
        key = _key(panel, cums, int(t), w)
        order = cand[np.argsort(key[cand], kind="stable")]
        sorted_keys = key[order]
        lo = np.searchsorted(sorted_keys, key[idx], "left")
        size = np.searchsorted(sorted_keys, key[idx], "right") - lo
        owner = np.repeat(np.arange(idx.size), size)
        pos = np.repeat(lo - np.cumsum(size) + size, size) + np.arange(size.sum())
        ctl = order[pos]
        h = mix64(idx[owner], ctl)
        o = np.lexsort((h, owner))
        owner, ctl = owner[o], ctl[o]
        rank = np.arange(owner.size) - np.repeat(np.cumsum(size) - size, size)
        keep = rank < k
        index.append(idx)
        t_of.append(np.full(idx.size, t))
        pi.append(owner[keep] + offset)
        pc.append(ctl[keep])
        offset += idx.size
    return Matches(w, _cat(index), _cat(t_of), _cat(pi), _cat(pc))


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _key(panel: MonthPanel, cums: dict[str, np.ndarray], t: int, w: int) -> np.ndarray:
    """Exact-match cell: stratum at t x pre-window bands of GP, emergency and A&E counts."""
    key = panel.stratum(t).astype(np.int64)
    for measure, cuts in BANDS.items():
        c = cums[measure]
        pre = c[:, t - 1] - (c[:, t - w - 1] if t - w > 0 else 0)
        key = key * (len(cuts) + 1) + np.searchsorted(np.asarray(cuts), pre, side="right")
    return key


@dataclass(frozen=True)
class MatchedDid:
    n_matched: int
    n_unmatched: int
    did_mean: float | None
    did: Interval | None  # of did_mean
    pre_mean: float | None
    did_pct: Interval | None  # 100 * did_mean / pre_mean, delta method
    rows: np.ndarray  # analysed index patients
    t: np.ndarray  # their index months


def did(panel: MonthPanel, m: Matches, measure: str, population: np.ndarray | None = None) -> MatchedDid:
    """did_mean with the practice-clustered interval; `population` masks the index patients (None = all)."""
    y = panel.counts[measure]
    w, n_idx = m.w, m.index.size
    in_pop = np.ones(n_idx, bool) if population is None else population[m.index]
    pre_i = window_sums(y, m.index, m.t - w, m.t)
    post_i = window_sums(y, m.index, m.t + 1, m.t + w + 1)
    tp = m.t[m.pair_index]
    pre_j = window_sums(y, m.pair_control, tp - w, tp)
    months = tp[:, None] + np.arange(1, w + 1)[None, :]
    d = y[m.pair_control[:, None], months] - pre_j[:, None] / w
    gj = panel.ref_month[m.pair_control]
    active = (gj == NO_REFERRAL)[:, None] | (gj[:, None] > months)
    cell = (m.pair_index[:, None] * w + np.arange(w)[None, :]).ravel()
    n_ctl = np.bincount(cell, weights=active.ravel(), minlength=n_idx * w).reshape(n_idx, w)
    s_ctl = np.bincount(cell, weights=(d * active).ravel(), minlength=n_idx * w).reshape(n_idx, w)
    matched = (n_ctl > 0).all(axis=1)
    c = np.divide(s_ctl, n_ctl, out=np.zeros_like(s_ctl), where=n_ctl > 0)
    e = (post_i - pre_i) - c.sum(axis=1)
    use = matched & in_pop
    n = int(use.sum())
    n_unmatched = int((~matched & in_pop).sum())
    if n == 0:
        return MatchedDid(0, n_unmatched, None, None, None, None, m.index[use], m.t[use])
    did_mean = float(e[use].mean())
    pre_mean = float(pre_i[use].mean())
    # Influence: index patient e_i - did_mean at its practice; control -(1/k_ik)(d_jk - c_ik) at its own.
    pair_use = use[m.pair_index]
    kk = n_ctl[m.pair_index]
    psi_ctl = (-(d - c[m.pair_index]) * active / np.where(kk > 0, kk, 1)).sum(axis=1) * pair_use
    n_pr = int(panel.practice.max()) + 1
    p_idx, p_ctl = panel.practice[m.index[use]], panel.practice[m.pair_control]
    psi_idx = e[use] - did_mean
    sums = np.bincount(p_idx, psi_idx, n_pr) + np.bincount(p_ctl, psi_ctl, n_pr)
    contributing = (np.bincount(p_idx, minlength=n_pr) + np.bincount(p_ctl, pair_use, n_pr)) > 0
    interval = clustered(did_mean, sums, contributing, n)
    pct = None
    if pre_mean:
        ratio = did_mean / pre_mean
        psi_r_idx = (psi_idx - ratio * (pre_i[use] - pre_mean)) / pre_mean
        sums_r = np.bincount(p_idx, psi_r_idx, n_pr) + np.bincount(p_ctl, psi_ctl / pre_mean, n_pr)
        pct = _scaled(clustered(ratio, sums_r, contributing, n), 100.0)
    return MatchedDid(n, n_unmatched, did_mean, interval, pre_mean, pct, m.index[use], m.t[use])


def _scaled(i: Interval, k: float) -> Interval:
    def s(x: float | None) -> float | None:
        return None if x is None else k * x
    return Interval(k * i.estimate, s(i.se), s(i.low), s(i.high), i.n_clusters)
