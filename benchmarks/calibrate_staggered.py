"""A minimal §4b staggered difference-in-differences for the calibration study (12-month effect only).

Written from methods §4b/§4c for benchmarks/calibrate.py while the project's reference
(`spw.estimators.staggered`) was not yet available; it estimates theta = sum of theta_e for e = 1..12
with the practice-clustered interval, for populations `referred` and `engaged` (theta / engaged share).
Readings where the text is silent: a treated stratum is dropped (n_unmatched) unless it has at least one
control in every month g-15 .. g+12; cohorts are g with g-15 >= 0 and g+12 <= the last month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spw.estimators.intervals import Interval, clustered
from spw.estimators.matched import NO_REFERRAL, MonthPanel

ANTICIPATION = 3
BASE_MONTHS = 12
HORIZON = 12
FIRST_E = -(ANTICIPATION + BASE_MONTHS)  # -15


@dataclass(frozen=True)
class Staggered:
    n_treated: int
    n_unmatched: int
    theta: Interval | None  # referred (ITT), per patient over 12 months
    engaged: Interval | None  # theta / engaged share, delta method
    base_mean: float | None  # 12 x treated base-block mean monthly count
    att_pct: Interval | None
    rows: np.ndarray  # analysed treated patients
    cohort: np.ndarray  # their G


def staggered(panel: MonthPanel, measure: str, engaged: np.ndarray) -> Staggered:
    y = panel.counts[measure]
    n, n_months = y.shape
    cum = np.zeros((n, n_months + 1))
    np.cumsum(y, axis=1, out=cum[:, 1:])
    g_of = panel.ref_month
    n_pr = int(panel.practice.max()) + 1
    sums = np.zeros(n_pr)
    touched = np.zeros(n_pr, bool)
    rows, cohort, psi_t, base_t = [], [], [], []
    n_unmatched = 0
    theta_sum = 0.0
    for g in range(-FIRST_E, n_months - HORIZON):
        panel_g = (panel.first_full <= g + FIRST_E) & (panel.last_full >= g + HORIZON)
        treated = np.flatnonzero(panel_g & (g_of == g))
        if not treated.size:
            continue
        ctl_all = np.flatnonzero(panel_g & ((g_of == NO_REFERRAL) | (g_of > g)))
        stratum = panel.stratum(g)
        s_t, s_c = stratum[treated], stratum[ctl_all]
        keys, inv = np.unique(s_t, return_inverse=True)
        n_gc = np.bincount(inv)
        # Controls of the treated strata only; position of each control's stratum among `keys`.
        pos = np.searchsorted(keys, s_c)
        pos = np.minimum(pos, keys.size - 1)
        mine = keys[pos] == s_c
        ctl, cpos = ctl_all[mine], pos[mine]
        months = np.arange(g + FIRST_E, g + HORIZON + 1)
        gc = g_of[ctl]
        # m_gcm: controls of stratum c still unreferred in month m (G NULL or G > max(m, g)).
        alive = (gc == NO_REFERRAL)[:, None] | (gc[:, None] > np.maximum(months, g)[None, :])
        m_gcm = np.stack([np.bincount(cpos, alive[:, j], keys.size) for j in range(months.size)], axis=1)
        ok = (m_gcm > 0).all(axis=1)
        n_unmatched += int(n_gc[~ok].sum())
        keep_t = ok[inv]
        tr, tinv = treated[keep_t], inv[keep_t]
        if not tr.size:
            continue
        base = np.zeros(n)
        need = np.concatenate([tr, ctl])
        base[need] = (cum[need, g - ANTICIPATION] - cum[need, g + FIRST_E]) / BASE_MONTHS
        post = np.arange(g + 1, g + HORIZON + 1)
        j_post = post - months[0]
        d_ctl = y[ctl[:, None], post[None, :]] - base[ctl][:, None]
        a_post = alive[:, j_post]
        m_post = m_gcm[:, j_post]
        cbar = np.stack([np.bincount(cpos, d_ctl[:, j] * a_post[:, j], keys.size) for j in range(HORIZON)],
                        axis=1) / np.where(m_post > 0, m_post, 1)
        d_tr = y[tr[:, None], post[None, :]] - base[tr][:, None]
        own = d_tr - cbar[tinv]  # each treated patient's effect per month
        att_gm = own.mean(axis=0)  # ATT(g, m) = sum_c n_gc/n_g ATT_c, here over kept strata
        theta_sum += float(own.sum())
        psi_t.append((own - att_gm[None, :]).sum(axis=1))
        rows.append(tr)
        cohort.append(np.full(tr.size, g))
        base_t.append(base[tr])
        # Controls: -(n_gc / m_gcm) (d_jm - cbar_gcm) summed over the months they serve.
        n_kept = np.where(ok, n_gc, 0)
        wgt = n_kept[cpos][:, None] / np.where(m_post[cpos] > 0, m_post[cpos], 1)
        psi_c = (-(wgt * (d_ctl - cbar[cpos]) * a_post)).sum(axis=1)
        serve = ok[cpos] & a_post.any(axis=1)
        sums += np.bincount(panel.practice[ctl[serve]], psi_c[serve], n_pr)
        touched[panel.practice[ctl[serve]]] = True
    if not rows:
        return Staggered(0, n_unmatched, None, None, None, None, np.zeros(0, int), np.zeros(0, int))
    r, gr, psi, b = (np.concatenate(x) for x in (rows, cohort, psi_t, base_t))
    big_n = r.size
    theta = theta_sum / big_n
    p_tr = panel.practice[r]
    touched[p_tr] = True
    s_theta = sums + np.bincount(p_tr, psi, n_pr)
    ci = clustered(theta, s_theta, touched, big_n)
    base_mean = HORIZON * float(b.mean())
    pct = None
    if base_mean:
        ratio = theta / base_mean
        s_r = (sums + np.bincount(p_tr, psi - ratio * (HORIZON * b - base_mean), n_pr)) / base_mean
        raw = clustered(ratio, s_r, touched, big_n)
        pct = Interval(100 * ratio, *(None if v is None else 100 * v for v in (raw.se, raw.low, raw.high)),
                       raw.n_clusters)
    share = float(engaged[r].mean())
    eng = None
    if share > 0:
        th_e = theta / share
        s_e = (sums + np.bincount(p_tr, psi - th_e * (engaged[r] - share), n_pr)) / share
        eng = clustered(th_e, s_e, touched, big_n)
    return Staggered(big_n, n_unmatched, ci, eng, base_mean, pct, r, gr)
