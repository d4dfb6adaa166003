"""The warehouse recovers what a synthetic landing folder holds.

A synthetic ICB (spw.synth, with a planted effect of social prescribing on engaged patients) is
loaded by the real loader and transformed by the real dbt project on a real Postgres. The marts are
then held against (a) an independent Python implementation of methods §1-§3 computed straight from
the landing CSVs, (b) the generator's planted truth: the matched difference-in-differences recovers
the effect where the naive before/after comparison (regression to the mean) does not, and (c) the
matching rules of methods §4, checked control by control.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date
from pathlib import Path

import pytest
import recovery_reference as ref
import warehouse_helpers as wh

# The synthetic ICB (size, seed, referral rate, "today") is the session's shared one: see
# PIPELINE_* in conftest.py. It is loaded and built once, through the real Airflow pipeline.
pytestmark = [pytest.mark.slow, pytest.mark.uses_built_warehouse]


@pytest.fixture(scope="module")
def warehouse(built_warehouse: Path) -> Path:
    rejected = wh.query("select count(*) as n from audit.rejected_rows")[0]["n"]
    assert rejected == 0, "the reference below assumes every synthetic row loads"
    return built_warehouse


@pytest.fixture(scope="module")
def reference(warehouse: Path) -> ref.Reference:
    return ref.build(warehouse)


def _mart_row(design: str, population: str, subgroup: str, window: int, measure: str,
              cohort_fy: str = "all", schema: str = "marts") -> dict | None:
    rows = wh.query(
        f"select * from {schema}.mart_demand_reduction where design = %s and geography_level = 'england' "
        "and cohort_fy = %s and population = %s and subgroup = %s and window_months = %s and measure = %s",
        (design, cohort_fy, population, subgroup, window, measure),
    )
    assert len(rows) <= 1
    return rows[0] if rows else None


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


CASES = [
    ("standard", "referred", "all", 6, "gp_appointments"),
    ("standard", "engaged", "all", 12, "practice_appointments"),
    ("standard", "referred", "all", 12, "dna_appointments"),
    ("standard", "engaged", "frequent_attenders", 6, "gp_face_to_face"),
    ("standard", "referred", "ltc", 6, "ae_type1_attendances"),
    ("standard", "referred", "all", 12, "ae_admitted"),
    ("standard", "engaged", "ltc_under_80", 6, "emergency_bed_days"),
    ("gloucestershire", "engaged", "all", 12, "gp_telephone"),
    ("gloucestershire", "referred", "frequent_attenders", 12, "gp_appointments"),
    ("gloucestershire", "engaged", "frequent_attenders", 12, "emergency_admissions"),
    ("gloucestershire", "engaged", "all", 12, "gp_home_visit"),
    ("rotherham", "engaged", "ltc", 12, "emergency_admissions"),
    ("rotherham", "referred", "ltc_under_80", 12, "ae_attendances"),
    ("rotherham", "engaged", "ltc_80_plus", 12, "emergency_bed_days"),
]


@pytest.mark.parametrize(("design", "population", "subgroup", "window", "measure"), CASES)
def test_before_after_matches_independent_computation(
    reference: ref.Reference, design: str, population: str, subgroup: str, window: int, measure: str
) -> None:
    expected = ref.before_after(reference, population, subgroup, window, measure)
    got = _mart_row(design, population, subgroup, window, measure)
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got["n_patients"] == expected["n_patients"]
    assert got["pre_total"] == expected["pre_total"]
    assert got["post_total"] == expected["post_total"]
    for col in ("pre_mean", "post_mean", "pct_change", "pct_change_ci_low", "pct_change_ci_high"):
        assert _close(got[col], expected[col]), (col, got[col], expected[col])
    assert got["n_matched"] + got["n_unmatched"] == got["n_patients"]


def test_every_cohort_year_and_the_cutoff(reference: ref.Reference) -> None:
    assert wh.query("select cutoff_date from intermediate.int_data_cutoff")[0]["cutoff_date"] == reference.cutoff
    years = sorted({r["cohort_fy"] for r in reference.cohort if r["eligible"]})
    assert len(years) >= 2
    for fy in years:
        expected = ref.before_after(reference, "referred", "all", 6, "gp_appointments", cohort_fy=fy)
        got = _mart_row("standard", "referred", "all", 6, "gp_appointments", cohort_fy=fy)
        if expected is None:
            assert got is None
        else:
            assert (got["n_patients"], got["pre_total"], got["post_total"]) == (
                expected["n_patients"], expected["pre_total"], expected["post_total"])


def test_attrition_matches_independent_computation(reference: ref.Reference) -> None:
    for window in (6, 12):
        expected = ref.attrition(reference, window)
        got = wh.query("select * from marts.mart_cohort_attrition where geography_level = 'england' "
                       "and cohort_fy = 'all' and window_months = %s", (window,))[0]
        assert {k: got[k] for k in expected} == expected
        excluded = (got["excluded_incomplete_follow_up"] + got["excluded_not_registered_throughout"]
                    + got["excluded_died"])
        assert excluded + got["eligible"] == got["referred"]
        assert excluded > 0


def t_975(df: int) -> float:
    """Student's t 97.5% quantile (scipy), to turn an interval back into its standard error."""
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def test_matched_did_recovers_planted_effect_where_naive_does_not(warehouse: Path) -> None:
    """The matched estimate lies within 3 of its standard errors of the planted effect; the naive
    before/after figure does not (regression to the mean inflates the fall)."""
    truth = json.loads((warehouse / "truth.json").read_text())
    planted = truth["effects"]["gp_appointments"]["12"]["engaged"]["true_effect_pct_of_pre_mean"]
    row = _mart_row("standard", "engaged", "all", 12, "gp_appointments")
    assert row["n_matched"] >= 50 and row["n_clusters"] >= 20
    se = (row["did_pct_ci_high"] - row["did_pct_ci_low"]) / (2 * t_975(row["n_clusters"] - 1))
    assert abs(row["did_pct"] - planted) / se <= 3, (planted, row)
    naive_se = (row["pct_change_ci_high"] - row["pct_change_ci_low"]) / (2 * 1.96)
    assert abs(row["pct_change"] - planted) / naive_se > 3, (planted, row["pct_change"], naive_se)
    # the naive fall is larger than the true one: regression to the mean inflates it
    assert row["pct_change"] < planted


def _patient_keys(reference_landing: Path) -> dict[str, dict]:
    from spw.ingest.pseudonymise import patient_key

    patients = ref.read_source(reference_landing, "patients")
    return {patient_key(p["@identity"], pseudonymous="pseudo_nhs_number" in p): p for p in patients}




def test_matched_controls_follow_every_rule(warehouse: Path, reference: ref.Reference) -> None:
    by_key = _patient_keys(warehouse)
    identity_key = {p["@identity"]: k for k, p in by_key.items()}
    first_referral: dict[str, date] = {}
    for r in ref.read_source(warehouse, "sp_referrals"):
        d = date.fromisoformat(r["referral_date"])
        k = identity_key.get(r["@identity"])
        if k and (k not in first_referral or d < first_referral[k]):
            first_referral[k] = d
    matcher = ref.Matcher(reference, by_key, first_referral, warehouse)
    controls = wh.query("select * from intermediate.int_matched_controls order by index_key, window_months, "
                        "control_seq")
    assert controls
    chosen: dict[tuple[str, int], list[str]] = {}
    for c in controls:
        assert matcher.is_valid(c["index_key"], c["window_months"], c["control_key"]), c
        chosen.setdefault((c["index_key"], c["window_months"]), []).append(c["control_key"])
    assert max(len(v) for v in chosen.values()) == 3
    # The chosen are the k valid candidates whose md5 follows the index patient's most closely on the
    # circular order of md5(patient_key) (checked against every patient, for a sample of index rows);
    # an index row with no valid candidate anywhere has none chosen (n_unmatched is exact).
    index_rows = wh.query("select index_key, window_months from intermediate.int_match_index "
                          "order by md5(index_key) limit 25")
    for i in index_rows:
        own = (_md5(i["index_key"]), i["index_key"])
        valid = [k for k in by_key if matcher.is_valid(i["index_key"], i["window_months"], k)]
        valid.sort(key=lambda k: ((_md5(k), k) < own, _md5(k), k))
        assert chosen.get((i["index_key"], i["window_months"]), []) == valid[:3]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_matching_is_deterministic_and_independent_of_pool_size(warehouse: Path) -> None:
    """A rebuild gives the same controls and numbers, even with a candidate pool so small that most
    index patients go through the second (whole-stratum) pass."""
    from spw.dbtrun import run_dbt

    controls = ("select index_key, window_months, control_key, control_seq, hash_distance, index_date, pre_start, "
                "post_end from intermediate.int_matched_controls order by index_key, window_months, control_seq")
    did = ("select design, geography_level, geography_code, cohort_fy, population, subgroup, window_months, "
           "measure, n_matched, control_pre_mean, control_post_mean, did_mean, did_ci_low, did_ci_high "
           "from marts.mart_demand_reduction order by 1, 2, 3, 4, 5, 6, 7, 8")
    before_controls, before_did = wh.query(controls), wh.query(did)
    run_dbt(["run", "--select", "int_match_index+", "--vars", "{match_candidate_pool: 4}"])
    assert wh.query("select count(*) as n from intermediate.int_match_extended")[0]["n"] > 0
    assert wh.query(controls) == before_controls
    assert wh.query(did) == before_did


def test_published_twin_is_disclosure_controlled(warehouse: Path) -> None:
    """Methods §9 v2: every level, England included, is suppressed (1-7) and rounded to 5."""
    rows = wh.query("select * from published.mart_demand_reduction")
    assert rows
    for r in rows:
        for col in ("n_patients", "pre_total", "post_total", "n_matched", "n_unmatched"):
            v = r[col]
            assert v is None or v == 0 or (v >= 10 and v % 5 == 0), (col, v)
        if r["n_patients"] is None:
            assert r["is_suppressed"] and r["pre_mean"] is None and r["pct_change"] is None
    england = wh.query("select m.n_patients as a, p.n_patients as b, w.secondary_counts "
                       "from marts.mart_demand_reduction m "
                       "join published.mart_demand_reduction p using (design, geography_level, geography_code, "
                       "cohort_fy, population, subgroup, window_months, measure) "
                       "join marts.mart_disclosure_withheld w on w.table_name = 'mart_demand_reduction' "
                       "and w.row_id = concat_ws('|', m.geography_level, m.geography_code, m.design, m.cohort_fy, "
                       "m.population, m.subgroup, m.window_months::text, m.measure) "
                       "where m.geography_level = 'england'")
    assert england and any(r["a"] % 5 for r in england), "no England count to round: the check proves nothing"
    for r in england:
        # a count withheld to protect a small one (secondary suppression, docs/methods.md §6) is empty too
        withheld = "|n_patients|" in r["secondary_counts"]
        expected = None if 1 <= r["a"] <= 7 or withheld else 5 * round(r["a"] / 5)
        assert r["b"] == expected, r
        assert not (withheld and 1 <= r["a"] <= 7), r


def _month_counts(reference: ref.Reference, who: str, measure: str, t: date, w: int) -> list[int]:
    """A person's count of a measure in each month k = (t + (k-1) months, t + k months], k = 1 .. w."""
    return [reference.events.window(who, measure, ref.add_months(t, k - 1), ref.add_months(t, k), False, True)
            for k in range(1, w + 1)]


def test_matched_did_is_censored_month_by_month(warehouse: Path, reference: ref.Reference) -> None:
    """e_i of methods §4 v2, recomputed from the landing files for index rows whose controls include
    one referred during the window: in month k only the controls still unreferred at its end count,
    c_ik = mean of (y_jk - pre_j / W); e_i = (post_i - pre_i) - sum of c_ik. Rows whose controls were
    all referred before the window ended are unmatched."""
    by_key = _patient_keys(warehouse)
    rows = wh.query(
        "select c.index_key, c.window_months, c.index_date, array_agg(c.control_key) as controls, "
        "array_agg(c.control_first_referral_date) as referred from intermediate.int_matched_controls as c "
        "group by c.index_key, c.window_months, c.index_date "
        "having bool_or(c.control_first_referral_date <= c.post_end) order by md5(c.index_key) limit 40")
    assert rows, "the test ICB has controls referred within their index patient's window"
    did = {(r["patient_key"], r["window_months"]): r for r in wh.query(
        "select patient_key, window_months, pre_count, post_count, is_matched, did_contribution "
        "from intermediate.int_did_patient where measure = 'gp_appointments'")}
    for r in rows:
        t, w = r["index_date"], r["window_months"]
        months = [sum(1 for k in range(1, w + 1) if f is None or f > ref.add_months(t, k)) for f in r["referred"]]
        got = did[(r["index_key"], w)]
        if max(months) < w:
            assert not got["is_matched"], r
            continue
        control = {}
        for key, counted in zip(r["controls"], months, strict=True):
            who = by_key[key]["@identity"]
            pre = reference.events.window(who, "gp_appointments", ref.add_months(t, -w), t, True, False)
            control[key] = (counted, pre, _month_counts(reference, who, "gp_appointments", t, w))
        c = 0.0
        for k in range(1, w + 1):
            active = [(pre, ys[k - 1]) for counted, pre, ys in control.values() if counted >= k]
            c += sum(y - pre / w for pre, y in active) / len(active)
        expected = (got["post_count"] - got["pre_count"]) - c
        assert got["is_matched"] and math.isclose(float(got["did_contribution"]), expected, abs_tol=1e-9), (r, expected)


def test_matched_intervals_are_clustered_by_practice(warehouse: Path) -> None:
    """The mart's SE equals methods §4c computed here from the patient-level terms: psi of an index
    patient e_i - did_mean at its practice, of a control its influence at its practice;
    Var = G / (G - 1) * sum over practices of (sum psi)^2 / n^2; did_pct by the delta method."""
    group = ("select m.patient_key from intermediate.int_patient_groups as m where m.window_months = 12 "
             "and m.population = 'engaged' and m.subgroup = 'all'")
    index = wh.query("select d.patient_key, d.practice_code, d.did_contribution as e, d.pre_count as pre "
                     f"from intermediate.int_did_patient as d where d.patient_key in ({group}) "
                     "and d.window_months = 12 and d.measure = 'gp_appointments' and d.is_matched")
    controls = wh.query("select practice_code, control_influence as psi "
                        "from intermediate.int_did_control_influence "
                        f"where index_key in ({group}) and window_months = 12 and measure = 'gp_appointments' "
                        "and index_key in (select patient_key from intermediate.int_did_patient where is_matched)")
    n = len(index)
    d = sum(float(r["e"]) for r in index) / n
    p = sum(float(r["pre"]) for r in index) / n
    ratio = d / p
    s_d: dict[str, float] = {}
    s_r: dict[str, float] = {}
    for r in index:
        s_d[r["practice_code"]] = s_d.get(r["practice_code"], 0.0) + float(r["e"]) - d
        s_r[r["practice_code"]] = s_r.get(r["practice_code"], 0.0) + (
            float(r["e"]) - d - ratio * (float(r["pre"]) - p)) / p
    for r in controls:
        s_d[r["practice_code"]] = s_d.get(r["practice_code"], 0.0) + float(r["psi"])
        s_r[r["practice_code"]] = s_r.get(r["practice_code"], 0.0) + float(r["psi"]) / p
    g = len(s_d)
    se_d = math.sqrt(g / (g - 1) * sum(v * v for v in s_d.values())) / n
    se_r = math.sqrt(g / (g - 1) * sum(v * v for v in s_r.values())) / n
    row = _mart_row("standard", "engaged", "all", 12, "gp_appointments")
    q = t_975(g - 1)
    assert (row["n_matched"], row["n_clusters"]) == (n, g)
    assert math.isclose(row["did_mean"], d, rel_tol=1e-9)
    assert math.isclose(row["did_ci_high"] - row["did_mean"], q * se_d, rel_tol=1e-6)
    assert math.isclose(row["did_pct_ci_high"] - row["did_pct"], 100 * q * se_r, rel_tol=1e-6)
