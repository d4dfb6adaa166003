"""Practice-clustered variance and t intervals (methods §4c)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_PRACTICES = 20  # fewer contributing practices: intervals are NULL (methods §4c)


@dataclass(frozen=True)
class Interval:
    estimate: float
    se: float | None
    low: float | None
    high: float | None
    n_clusters: int


def cluster_sums(psi: np.ndarray, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    """Sum of influence values per cluster (clusters numbered 0 .. n_clusters - 1)."""
    return np.bincount(cluster, weights=psi, minlength=n_clusters)


def clustered(estimate: float, sums: np.ndarray, contributing: np.ndarray, n: int, level: float = 0.95
              ) -> Interval:
    """t interval from per-cluster sums of psi: var = G/(G-1) * sum_p S_p^2 / n^2, G-1 degrees of freedom.

    `contributing` marks the clusters holding at least one analysed patient (G counts those only).
    """
    g = int(contributing.sum())
    if g < MIN_PRACTICES or n == 0:
        return Interval(estimate, None, None, None, g)
    var = g / (g - 1) * float((sums[contributing] ** 2).sum()) / n**2
    se = var**0.5
    half = float(stats.t.ppf(0.5 + level / 2, g - 1)) * se
    return Interval(estimate, se, estimate - half, estimate + half, g)
