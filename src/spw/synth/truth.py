"""The planted truth: expected events prevented among engaged index patients, accumulated over chunks.

Eligibility follows the methods statement exactly (windows with calendar-month arithmetic; registered
from `index - W months` to `index + W months`; alive after `index + W months`; window ends by the cut-off).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spw.synth.activity import MEASURES, WINDOWS, Events
from spw.synth.population import Patients
from spw.synth.timeline import NEVER, add_months, day_number, from_day


@dataclass
class Window:
    """Per-patient window bounds for one W (day numbers); eligible marks the methods' rule."""

    pre_start: np.ndarray
    post_end: np.ndarray  # inclusive
    eligible: np.ndarray


def windows(pt: Patients, idx_day: np.ndarray, w: int, cutoff: int) -> Window:
    n = len(pt)
    pre = np.full(n, NEVER, dtype=np.int64)
    post = np.full(n, -NEVER, dtype=np.int64)
    for i in np.flatnonzero(idx_day < NEVER):
        t = from_day(idx_day[i])
        pre[i] = day_number(add_months(t, -w))
        post[i] = day_number(add_months(t, w))
    eligible = ((idx_day < NEVER) & (post <= cutoff) & (pt.reg_start <= pre)
                & ((pt.reg_end == NEVER) | (pt.reg_end >= post))
                & ((pt.death == NEVER) | (pt.death > post)))
    return Window(pre, post, eligible)


def per_patient(ev: Events, lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """Events per patient with lo <= day <= hi (bounds per patient)."""
    inside = (ev.day >= lo[ev.pat]) & (ev.day <= hi[ev.pat])
    return np.bincount(ev.pat[inside], minlength=n)


@dataclass
class Cell:
    n: int = 0
    expected: float = 0.0  # sum of expected events prevented (negative)
    realised: float = 0.0  # sum of events actually removed by the generator (negative)
    pre: int = 0
    post: int = 0

    def add(self, mask: np.ndarray, expected: np.ndarray, realised: np.ndarray, pre: np.ndarray,
            post: np.ndarray) -> None:
        self.n += int(mask.sum())
        self.expected += float(expected[mask].sum())
        self.realised += float(realised[mask].sum())
        self.pre += int(pre[mask].sum())
        self.post += int(post[mask].sum())


@dataclass
class Truth:
    cells: dict[tuple[str, str, int], Cell] = field(default_factory=dict)

    def cell(self, population: str, measure: str, w: int) -> Cell:
        return self.cells.setdefault((population, measure, w), Cell())

    def report(self, multipliers: dict[str, float]) -> dict:
        out: dict = {}
        for measure in MEASURES:
            out[measure] = {}
            for w in WINDOWS:
                eng = self.cell("engaged", measure, w)
                ref = self.cell("referred", measure, w)
                out[measure][str(w)] = {
                    "effect_multiplier": multipliers[measure],
                    "engaged": _summary(eng, eng),
                    "referred": _summary(ref, eng),
                }
        return out

    def staggered_report(self) -> dict:
        """Truth for the staggered design's 12-month effect (theta), per measure and population.

        `referred`: every panel patient of a complete cohort (the ITT population); `engaged`: the same sum of
        effects over the engaged among them (what theta / engaged share estimates). `base_12_months` is
        12 x the treated base-block mean monthly count (the denominator of att_pct).
        """
        out: dict = {}
        for measure in MEASURES:
            ref = self.cell("sdid_referred", measure, 12)
            eng = self.cell("sdid_engaged", measure, 12)
            base = ref.pre / ref.n if ref.n else None
            theta = ref.expected / ref.n if ref.n else None
            out[measure] = {
                "referred": {"n_patients": ref.n, "true_theta": _r(theta), "base_12_months": _r(base),
                             "true_att_pct": _r(100 * theta / base if theta is not None and base else None),
                             "realised_theta": _r(ref.realised / ref.n if ref.n else None)},
                "engaged": {"n_patients": eng.n, "true_theta": _r(ref.expected / eng.n if eng.n else None),
                            "engaged_share": _r(eng.n / ref.n if ref.n else None)},
            }
        return out


def _summary(c: Cell, effect: Cell) -> dict:
    """Truth for one population; the effect sums come from the engaged (the only ones treated)."""
    n = c.n
    pre_mean = c.pre / n if n else None
    true = effect.expected / n if n else None
    return {
        "n_patients": n,
        "true_effect_per_patient": _r(true),
        "realised_effect_per_patient": _r(effect.realised / n if n else None),
        "true_effect_pct_of_pre_mean": _r(100 * true / pre_mean if n and pre_mean else None),
        "pre_mean": _r(pre_mean),
        "post_mean": _r(c.post / n if n else None),
        "naive_pct_change": _r(100 * (c.post - c.pre) / c.pre if c.pre else None),
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def window_effect(effect: np.ndarray, rows: np.ndarray, month: np.ndarray, w: int) -> np.ndarray:
    """Planted effect of each row over months month+1 .. month+w (a design's post window or horizon)."""
    cols = month[:, None] + np.arange(1, w + 1)[None, :]
    return effect[rows[:, None], cols].sum(axis=1, dtype=float)


def design_truth(effect: np.ndarray, rows: np.ndarray, month: np.ndarray, w: int,
                 engaged: np.ndarray) -> dict[str, float | None]:
    """Truth over exactly the patients a design analysed: per patient, and per engaged patient among them.

    `rows` are the analysed (index or treated) patients and `month` their index or cohort month; the planted
    effect falls on the engaged only, so the engaged truth is the same sum over fewer patients.
    """
    total = float(window_effect(effect, rows, month, w).sum()) if rows.size else 0.0
    n_eng = int(engaged[rows].sum())
    return {"n": int(rows.size), "per_patient": total / rows.size if rows.size else None,
            "per_engaged_patient": total / n_eng if n_eng else None}
