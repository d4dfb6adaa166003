"""Before/after statistics of the Gloucestershire and Rotherham designs (methods §3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.96


@dataclass(frozen=True)
class BeforeAfter:
    n: int
    pre_total: float
    post_total: float
    pre_mean: float | None
    post_mean: float | None
    pct_change: float | None  # NULL when pre_total = 0
    mean_d: float | None
    se: float | None  # sd(d) / sqrt(n); NULL when n < 2
    ci_low: float | None  # of mean d
    ci_high: float | None
    pct_change_ci_low: float | None  # 100 * CI bound / pre_mean
    pct_change_ci_high: float | None


def before_after(pre: np.ndarray, post: np.ndarray) -> BeforeAfter:
    """Per-patient pre and post counts of one group -> the §3 statistics."""
    pre, post = np.asarray(pre, float), np.asarray(post, float)
    n = pre.size
    pre_total, post_total = float(pre.sum()), float(post.sum())
    pre_mean = pre_total / n if n else None
    post_mean = post_total / n if n else None
    pct = 100 * (post_total - pre_total) / pre_total if pre_total else None
    d = post - pre
    mean_d = float(d.mean()) if n else None
    se = low = high = pct_low = pct_high = None
    if n >= 2:
        se = float(d.std(ddof=1)) / n**0.5
        low, high = mean_d - Z95 * se, mean_d + Z95 * se
        if pre_mean:
            pct_low, pct_high = 100 * low / pre_mean, 100 * high / pre_mean
    return BeforeAfter(n, pre_total, post_total, pre_mean, post_mean, pct, mean_d, se, low, high, pct_low,
                       pct_high)
