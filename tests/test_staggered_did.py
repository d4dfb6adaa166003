"""The staggered difference-in-differences (methods §4b/§4c) against its numpy reference, csdid and the truth.

(a) marts.mart_staggered_did equals spw.estimators.staggered on arrays exported from the warehouse
    (spans, strata and counts derived in Python from staging and int_patient_events), every estimate
    and SE, to 1e-9;
(b) package-compatible mode (var sdid_mode) equals csdid's att_gt (not-yet-treated controls, universal
    base period) on the exported panel, to 1e-6;
(c) recovery: |estimate - planted truth| / SE <= 3, on the session's synthetic ICB (the warehouse's
    estimate; truth approximated from the §1 window truth) and on the generator's arrays at fixed seeds
    (the reference; truth summed over exactly the treated patients the estimate used);
(d) null effect: with no planted effect the staggered interval holds 0 while the before/after figure
    shows a fall (regression to the mean), on the generator's arrays at fixed seeds and on a small
    simulated panel with persistent episodes.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import staggered_reference as ref
import warehouse_helpers as wh

from spw.estimators import matched as M
from spw.estimators import staggered as S
from spw.estimators.before_after import before_after
from spw.synth import arrays
from spw.synth.params import SynthParams
from spw.synth.truth import design_truth

pytestmark = [pytest.mark.slow, pytest.mark.uses_built_warehouse]

MEASURES = ["gp_appointments", "practice_appointments", "ae_attendances", "emergency_admissions",
            "emergency_bed_days", "gp_telephone"]
COLUMNS = ("att", "att_se", "att_ci_low", "att_ci_high", "att_pct", "att_pct_ci_low", "att_pct_ci_high",
           "band_low", "band_high", "pretrend_p", "treated_base_mean", "engaged_share")


def _close(a, b, tol: float = 1e-9) -> bool:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None and (b is None or math.isnan(b))
    return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)


def _expected_rows(est: S.Estimates, population: str) -> dict[tuple[str, int | None], dict]:
    s = est.referred if population == "referred" else est.engaged
    rows: dict[tuple[str, int | None], dict] = {}
    common = {"n_treated": est.n_treated, "n_unmatched": est.n_unmatched, "n_clusters": est.n_clusters,
              "n_control_patients": est.n_control_patients, "treated_base_mean": s.base_mean,
              "engaged_share": est.engaged_share if population == "engaged" else None}
    rows[("cumulative_12m", None)] = {**common, "att": s.att, "att_se": s.att_se, "att_ci_low": s.att_ci_low,
                                      "att_ci_high": s.att_ci_high, "att_pct": s.att_pct,
                                      "att_pct_ci_low": s.att_pct_ci_low, "att_pct_ci_high": s.att_pct_ci_high,
                                      "band_low": None, "band_high": None, "pretrend_p": s.pretrend_p}
    for k, e in enumerate(est.event_months):
        has = s.se_boot is not None
        rows[("event_study", int(e))] = {
            **common, "att": s.theta[k], "att_se": s.se_boot[k] if has else None,
            "att_ci_low": s.ci_low[k] if has else None, "att_ci_high": s.ci_high[k] if has else None,
            "att_pct": None, "att_pct_ci_low": None, "att_pct_ci_high": None,
            "band_low": s.band_low[k] if has else None, "band_high": s.band_high[k] if has else None,
            "pretrend_p": None}
    return rows


@pytest.fixture(scope="module")
def exported(built_warehouse: Path) -> ref.Export:
    return ref.export(MEASURES)


def _groups() -> list[tuple[str, str, str]]:
    rows = wh.query("select distinct geography_level, geography_code, cohort_fy, n_clusters "
                    "from marts.mart_staggered_did where measure = 'gp_appointments' order by 1, 2, 3")
    picked: dict[str, tuple[str, str, str]] = {}
    for r in rows:
        key = r["geography_level"] + ("/fy" if r["cohort_fy"] != "all" else "")
        picked.setdefault(key, (r["geography_level"], r["geography_code"], r["cohort_fy"]))
    return sorted(picked.values())


@pytest.mark.parametrize("measure", MEASURES)
def test_sql_equals_numpy_reference(exported: ref.Export, measure: str) -> None:
    boot = S.multipliers(exported.panel.practice_codes)
    groups = _groups() if measure == "gp_appointments" else [("england", "ENG", "all")]
    assert groups, "the mart is empty"
    for level, code, fy in groups:
        est = S.estimate(exported.panel, exported.y[measure], ref.group_mask(exported, level, code, fy), boot=boot)
        got = wh.query("select * from marts.mart_staggered_did where measure = %s and geography_level = %s and "
                       "geography_code = %s and cohort_fy = %s", (measure, level, code, fy))
        for population in ("referred", "engaged"):
            expected = _expected_rows(est, population)
            mine = {(r["estimate"], r["event_month"]): r for r in got if r["population"] == population}
            assert set(mine) == set(expected), (level, code, fy, population)
            for key, exp in expected.items():
                for col, value in exp.items():
                    assert _close(mine[key][col], value), (level, code, fy, population, key, col,
                                                           mine[key][col], value)


def test_package_compatible_mode_equals_csdid(built_warehouse: Path) -> None:
    """ATT(g, m) of the package-compatible SQL mode against csdid.att_gt on the exported panel, per cohort."""
    import pandas as pd
    from csdid.att_gt import ATTgt

    from spw import dbtrun

    measure = "gp_appointments"
    # only the models ATT(g, m) is read from (int_sdid_practice_psi and what it reads), then back to strata
    select = ["--select", "+int_sdid_practice_psi,path:models/intermediate/staggered_did"]
    try:
        dbtrun.run_dbt(["run", *select, "--vars", "{sdid_mode: package_compatible}"], capture=True)
        sql_att = _sql_att_gt(measure)
    finally:
        dbtrun.run_dbt(["run", *select], capture=True)
    ex = ref.export([measure], package_compatible=True)
    p = ex.panel
    cohorts = sorted({g for g, _ in sql_att})
    assert len(cohorts) >= 3
    checked = 0
    for g_abs in cohorts[:: max(1, len(cohorts) // 3)][:3]:
        g = g_abs - ex.month0
        in_panel = (p.first_month <= g - 15) & (p.last_month >= g + 12)
        first_ref = p.first_referral
        keep = in_panel & ((first_ref < 0) | (first_ref >= g))
        months = np.arange(g - 15, g + 13)
        ids = np.flatnonzero(keep)
        Gk = np.where((first_ref[ids] < 0) | (first_ref[ids] > g + 15), 0, first_ref[ids] - (g - 16))
        df = pd.DataFrame({"id": np.repeat(ids, months.size), "t": np.tile(months - (g - 16), ids.size),
                           "y": ex.y[measure][np.ix_(ids, months)].ravel(), "G": np.repeat(Gk, months.size)})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ATTgt(yname="y", tname="t", idname="id", gname="G", data=df, control_group="notyettreated",
                        anticipation=3).fit(est_method="reg", base_period="universal", bstrap=False)
        r = fit.results
        for grp, t, att in zip(r["group"], r["year"], r["att"], strict=True):
            if int(grp) == 16:
                e = int(t) - 16
                assert abs(sql_att[(g_abs, e)] - att) <= 1e-6, (g_abs, e, sql_att[(g_abs, e)], att)
                checked += 1
    assert checked >= 3 * 27


def _cols() -> list[str]:
    return [("m" if e < 0 else "p") + f"{abs(e):02d}" for e in range(-15, 13)]


def _sql_att_gt(measure: str) -> dict[tuple[int, int], float]:
    cols = _cols()
    sums = ", ".join(f"sum(td_{c}) as td_{c}" for c in cols)
    rows = wh.query(f"select g, sum(n_treated) as n, {sums} from intermediate.int_sdid_practice_psi "
                    "where measure = %s and weight_scope = 'cell' group by g having sum(n_treated) > 0", (measure,))
    out = {}
    for r in rows:
        for e, c in zip(range(-15, 13), cols, strict=True):
            out[(r["g"], e)] = float(r[f"td_{c}"]) / float(r["n"])
    return out


def test_recovers_planted_effect(built_warehouse: Path) -> None:
    """|estimate - truth| / SE <= 3 for the referred 12-month effect of each planted measure.

    Truth: the generator's planted effect per referred patient over (index, index + 12 months], times the
    share of those days that fall in months g+1 .. g+12 (the estimate leaves out the referral month)."""
    truth = json.loads((built_warehouse / "truth.json").read_text())
    days = wh.query("select avg(cast(extract(day from index_date) as float)) as d "
                    "from intermediate.int_index_referrals")
    in_window = 1 - (30.4 - days[0]["d"]) / 365.25
    for measure in ("gp_appointments", "ae_attendances", "emergency_admissions"):
        row = wh.query("select * from marts.mart_staggered_did where geography_level = 'england' and "
                       "cohort_fy = 'all' and population = 'referred' and estimate = 'cumulative_12m' and "
                       "measure = %s", (measure,))[0]
        expected = truth["effects"][measure]["12"]["referred"]["true_effect_per_patient"] * in_window
        assert row["att_se"] is not None and row["att_se"] > 0
        assert abs(row["att"] - expected) / row["att_se"] <= 3, (measure, row["att"], expected, row["att_se"])


SEEDS = (1, 2, 3)


def _generator(seed: int, **knobs) -> tuple[arrays.Arrays, S.Panel]:
    a = arrays.simulate(40_000, seed, replace(SynthParams(), **knobs))
    return a, S.from_month_panel(a, a.engaged)


@pytest.mark.parametrize("seed", SEEDS)
def test_recovers_planted_effect_at_fixed_seeds(seed: int) -> None:
    """Generator arrays (default scenario): |estimate - truth| / SE <= 3 for the 12-month effect, both populations.

    Truth: the expected events the planted effect removed, summed over months G+1 .. G+12 of exactly the
    treated patients the estimate used (unmatched strata left out), per patient (referred) or per engaged
    patient (engaged)."""
    a, panel = _generator(seed)
    for measure in ("gp_appointments", "emergency_admissions"):
        est = S.estimate(panel, a.counts[measure])
        assert est.n_clusters >= 20 and est.treated_rows.size == est.n_treated
        truth = design_truth(a.effect[measure], est.treated_rows, est.treated_cohort, S.EFFECT_MONTHS, a.engaged)
        for summary, true in ((est.referred, truth["per_patient"]), (est.engaged, truth["per_engaged_patient"])):
            assert true < 0
            assert abs(summary.att - true) / summary.att_se <= 3, (seed, measure, summary.att, true, summary.att_se)


def _before_after_pct(a: arrays.Arrays, measure: str, w: int = 12) -> tuple[float, float]:
    """Methods §3 on the eligible index patients (months t-W .. t-1 against t+1 .. t+W): % change, CI high."""
    t_all = a.ref_month
    rows = np.array([i for i in np.flatnonzero(t_all >= 0)
                     if M.eligible(a, int(t_all[i]), w, a.n_months)[i]], dtype=np.int64)
    t = t_all[rows]
    y = a.counts[measure]
    ba = before_after(M.window_sums(y, rows, t - w, t), M.window_sums(y, rows, t + 1, t + w + 1))
    return ba.pct_change, ba.pct_change_ci_high


@pytest.mark.parametrize("seed", SEEDS)
def test_null_effect_on_generator_interval_holds_zero_while_before_after_falls(seed: int) -> None:
    """No planted effect (effect_scale 0): the staggered 95% interval holds 0; before/after shows a fall."""
    a, panel = _generator(seed, effect_scale=0.0)
    assert not a.effect["gp_appointments"].any()
    r = S.estimate(panel, a.counts["gp_appointments"]).referred
    assert r.att_ci_low is not None
    assert r.att_ci_low <= 0 <= r.att_ci_high, (seed, r.att, r.att_ci_low, r.att_ci_high)
    pct, ci_high = _before_after_pct(a, "gp_appointments")
    assert pct < -5 and ci_high < 0, (seed, pct, ci_high)


def test_null_effect_interval_holds_zero_while_before_after_falls() -> None:
    """Simulated panel with persistent episodes and no effect: the staggered interval holds 0; before/after falls."""
    pytest.importorskip("scipy")
    from sim_panel import null_panel

    panel, y, before_after_pct = null_panel(seed=6)
    est = S.estimate(panel, y)
    r = est.referred
    assert r.att_ci_low is not None
    assert r.att_ci_low <= 0 <= r.att_ci_high, (r.att, r.att_ci_low, r.att_ci_high)
    assert before_after_pct < -5, before_after_pct


def test_numpy_package_mode_equals_csdid() -> None:
    """The reference's package-compatible mode against csdid att_gt on a simulated balanced panel."""
    import pandas as pd
    from csdid.att_gt import ATTgt
    from sim_panel import null_panel

    panel, y, _ = null_panel(seed=3, n=1500, months=40, practices=25)
    est = S.estimate(panel, y, mode="package_compatible")
    n, T = y.shape
    G = panel.first_referral
    df = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": np.tile(np.arange(1, T + 1), n), "y": y.ravel(),
                       "G": np.repeat(np.where(G < 0, 0, G + 1), T)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ATTgt(yname="y", tname="t", idname="id", gname="G", data=df, control_group="notyettreated",
                    anticipation=3).fit(est_method="reg", base_period="universal", bstrap=False)
    r = fit.results
    compared = 0
    for g, t, att in zip(r["group"], r["year"], r["att"], strict=True):
        key = (int(g) - 1, int(t) - 1)
        if key in est.att_gt:
            assert abs(est.att_gt[key] - att) <= 1e-6, (key, est.att_gt[key], att)
            compared += 1
    assert compared >= 100
