"""numpy reference estimators: before/after (methods §3), matched v2 (§4) and the clustered interval (§4c).

Hand-built panels with numbers worked out on paper; the calibration study (benchmarks/calibrate.py) checks
their coverage on the generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy import stats

from spw.estimators import matched as M
from spw.estimators.before_after import before_after
from spw.estimators.intervals import clustered


def test_before_after_statistics_by_hand() -> None:
    r = before_after(np.array([2, 4, 0, 6]), np.array([1, 1, 0, 2]))
    assert (r.n, r.pre_total, r.post_total, r.pre_mean) == (4, 12, 4, 3)
    assert r.pct_change == pytest.approx(-200 / 3)
    sd = (10 / 3) ** 0.5  # d = -1, -3, 0, -4 around -2
    assert r.mean_d == -2 and r.se == pytest.approx(sd / 2)
    assert (r.ci_low, r.ci_high) == pytest.approx((-2 - 1.96 * sd / 2, -2 + 1.96 * sd / 2))
    assert r.pct_change_ci_low == pytest.approx(100 * r.ci_low / 3)
    one = before_after(np.array([0]), np.array([3]))
    assert one.pct_change is None and one.ci_low is None and one.mean_d == 3


def test_clustered_interval_formula_and_the_20_practice_floor() -> None:
    sums = np.arange(25, dtype=float) - 12
    iv = clustered(1.5, sums, np.ones(25, bool), n=50)
    se = (25 / 24 * (sums**2).sum() / 50**2) ** 0.5
    assert iv.se == pytest.approx(se) and iv.n_clusters == 25
    assert iv.high - iv.estimate == pytest.approx(stats.t.ppf(0.975, 24) * se)
    few = clustered(1.5, sums, np.arange(25) < 19, n=50)
    assert few.se is None and few.low is None and few.n_clusters == 19


@dataclass
class Panel:
    """A hand-built month panel: one stratum, everybody registered for all 8 months."""

    gp: list[list[int]]
    ref_month: np.ndarray
    practice: np.ndarray = field(default=None)  # type: ignore[assignment]
    last_full: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.gp)
        y = np.array(self.gp)
        self.counts = {"gp_appointments": y, "emergency_admissions": np.zeros_like(y),
                       "ae_attendances": np.zeros_like(y)}
        self.first_full = np.zeros(n, int)
        if self.last_full is None:
            self.last_full = np.full(n, y.shape[1] - 1)
        if self.practice is None:
            self.practice = np.arange(n)

    def stratum(self, month: int) -> np.ndarray:
        return np.zeros(len(self.gp), np.int64)


def test_matched_v2_controls_censored_at_their_own_referral() -> None:
    #        months 0  1  2  3  4  5  6  7
    panel = Panel([[0, 2, 2, 0, 1, 0, 0, 0],  # 0: index, referred month 3: pre 4, post 1
                   [0, 2, 2, 0, 3, 1, 0, 0],  # 1: never referred, pre 4
                   [0, 1, 3, 0, 2, 9, 0, 0],  # 2: referred month 5: serves month 4 only
                   [0, 0, 0, 0, 5, 5, 0, 0],  # 3: pre 0, another GP band: never a control here
                   [0, 2, 2, 0, 0, 0, 0, 0]],  # 4: also referred month 3, so an index patient, not a control
                  np.array([3, -1, 5, -1, 3]),
                  last_full=np.array([7, 7, 6, 7, 7]))  # 2 leaves in month 7: too early to be an index patient
    m = M.match(panel, w=2)
    assert m.index.tolist() == [0, 4]
    pairs = sorted(zip(m.index[m.pair_index].tolist(), m.pair_control.tolist(), strict=True))
    assert pairs == [(0, 1), (0, 2), (4, 1), (4, 2)]
    r = M.did(panel, m, "gp_appointments")
    # Month 4: controls 1 and 2 change by 3 - 2 = 1 and 2 - 2 = 0; month 5: only control 1, 1 - 2 = -1.
    # e_0 = (1 - 4) - (0.5 - 1) = -2.5; e_4 = (0 - 4) - (0.5 - 1) = -3.5.
    assert (r.n_matched, r.n_unmatched) == (2, 0)
    assert r.did_mean == pytest.approx(-3.0) and r.pre_mean == 4
    assert r.did is not None and r.did.se is None  # 5 practices: no interval
    only_first = M.did(panel, m, "gp_appointments", population=np.array([True, False, False, False, False]))
    assert only_first.did_mean == pytest.approx(-2.5) and only_first.rows.tolist() == [0]


def test_matched_index_patient_loses_every_control_is_unmatched() -> None:
    panel = Panel([[0, 2, 2, 0, 1, 0, 0, 0],
                   [0, 2, 2, 0, 1, 0, 0, 0]],  # the only control is referred in month 4, during the window
                  np.array([3, 4]))
    r = M.did(panel, M.match(panel, w=2), "gp_appointments")
    # 0 loses its only control in month 4; 1 (itself an index patient in month 4) never had one.
    assert (r.n_matched, r.n_unmatched) == (0, 2) and r.did_mean is None


def test_matched_takes_k_controls_by_the_smallest_hash_deterministically() -> None:
    gp = [[0, 1, 1, 0, 0, 0, 0, 0]] * 9
    panel = Panel(gp, np.array([3] + [-1] * 8))
    a, b = M.match(panel, w=2), M.match(panel, w=2)
    assert a.pair_control.tolist() == b.pair_control.tolist()
    h = M.mix64(np.zeros(8, np.int64), np.arange(1, 9))
    assert sorted(a.pair_control.tolist()) == sorted((np.argsort(h)[:3] + 1).tolist())


def test_matched_interval_clusters_by_practice_with_controls_at_their_own_practice() -> None:
    rng = np.random.default_rng(0)
    n = 400
    gp = rng.poisson(1.0, size=(n, 8))
    gp[:, 1:3] = 1  # everybody in the same pre band
    ref = np.where(np.arange(n) < 60, 3, -1)
    panel = Panel(gp.tolist(), ref, practice=np.arange(n) % 30)
    r = M.did(panel, M.match(panel, w=2), "gp_appointments")
    assert r.n_matched == 60 and r.did is not None and r.did.n_clusters == 30
    assert r.did.low < r.did_mean < r.did.high
    # Every control in one practice with its index patient's own practice far away changes nothing in the
    # estimate but moves control contributions into one cluster.
    lumped = Panel(gp.tolist(), ref, practice=np.where(ref >= 0, np.arange(n) % 30, 0))
    r2 = M.did(lumped, M.match(lumped, w=2), "gp_appointments")
    assert r2.did_mean == pytest.approx(r.did_mean) and r2.did.se != pytest.approx(r.did.se)
    assert r.did_pct is not None and r.did_pct.estimate == pytest.approx(100 * r.did_mean / r.pre_mean)
