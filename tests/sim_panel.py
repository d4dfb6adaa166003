"""A small monthly panel with need episodes and use-driven referral, and no effect of referral at all.

Regression to the mean is what it shows: referral follows a spell of high use, so a before/after
comparison of the referred falls although nothing was done. Used by tests/test_staggered_did.py.
"""

from __future__ import annotations

import numpy as np

from spw.estimators import staggered as S


def null_panel(seed: int, n: int = 20_000, months: int = 48, practices: int = 40) -> tuple[S.Panel, np.ndarray, float]:
    """(panel, monthly counts, before/after % change of the referred over 12 months) with no effect."""
    rng = np.random.default_rng(seed)
    practice = rng.integers(0, practices, n)
    stratum = rng.integers(0, 12, n)
    rate = rng.gamma(2.0, 0.25, n) * (1 + 0.3 * rng.normal(size=practices)[practice].clip(-0.9, 2))
    episode = np.zeros((n, months), bool)
    on = np.zeros(n, bool)
    for m in range(months):
        on = np.where(on, rng.random(n) < 0.6, rng.random(n) < 0.04)
        episode[:, m] = on
    y = rng.poisson(rate[:, None] * np.where(episode, 4.0, 1.0))
    ref = np.full(n, -1)
    for m in range(16, months - 13):
        recent = y[:, m - 3:m].sum(axis=1)
        hazard = 0.002 * (1 + recent) ** 1.5
        new = (ref < 0) & (rng.random(n) < hazard)
        ref[new] = m
    panel = S.Panel(stratum=stratum, practice=practice, practice_codes=[f"P{p:03d}" for p in range(practices)],
                    first_referral=ref, first_month=np.zeros(n, int), last_month=np.full(n, months - 1),
                    engaged=rng.random(n) < 0.6, cutoff_month=months - 1)
    treated = np.flatnonzero(ref >= 0)
    pre = np.array([y[i, ref[i] - 12:ref[i]].sum() for i in treated])
    post = np.array([y[i, ref[i] + 1:ref[i] + 13].sum() for i in treated])
    return panel, y.astype(float), float(100 * (post.sum() - pre.sum()) / pre.sum())
