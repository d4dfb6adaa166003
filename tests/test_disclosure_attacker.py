"""Methods §9 against an attacker, on the synthetic ICB the real pipeline built (`built_warehouse`).

The attacker (tests/disclosure_attack.py) reads `published.*` and tries every differencing and
mean-inversion route; it must pin no count in 1..7 that the unrounded marts hold. Run against the
published layer of commit 69088ad (England unrounded, means at full precision beside rounded counts)
the same attacker recovered thousands of them, and against §9 alone (no secondary suppression)
about 3,000 (docs/methods.md, "Disclosure control").

Then the build-test-swap: a dbt build whose disclosure test fails (var disclosure_test_unrounded
publishes counts unrounded) fails and leaves every published table as it was; a good build swaps new
tables in, with the readers' grants.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from disclosure_attack import Attack, Ratio, Table, _terms
from psycopg import sql

from spw import db

pytestmark = [pytest.mark.slow, pytest.mark.uses_built_warehouse]

GEO = ("geography_level", "geography_code")
CONTROLS_LATTICE = 6  # a patient's controls' mean has 1, 2 or 3 controls: sums are whole sixths
# methods §6 constants the pro-rata ambition is computed with (dbt vars; defaults)
AMBITION, ENGLAND_POPULATION = 900_000, 63_000_000


def _wte_scale(row: dict) -> float | None:
    wte = row.get("link_worker_wte")
    return 12 / float(wte) if wte else None


def _cost_scale(row: dict) -> float | None:
    cost = row.get("cost_gbp")
    return float(cost) if cost else None


DEMAND_COUNTS = ("n_patients", "pre_total", "post_total", "n_matched", "n_unmatched")
WELLBEING_COUNTS = ("n_paired", "n_baseline_only", "n_followup_only", "n_improved")
EQUITY_COUNTS = ("registered_population", "referrals", "people_engaged", "outcome_n_patients", "gp_pre_total",
                 "gp_post_total", "swemwbs_n_paired")
PCN_COUNTS = ("registered_population", "referrals", "people_referred", "closed_referrals",
              "closed_referrals_with_contacts", "declined_referrals", "referrals_with_first_contact")
PROGRESS_COUNTS = ("registered_population", "referrals", "cumulative_referrals", "all_referrals",
                   "cumulative_all_referrals")
ATTRITION_COUNTS = ("referred", "excluded_incomplete_follow_up", "excluded_not_registered_throughout",
                    "excluded_died", "eligible", "engaged")
SDID_COUNTS = ("n_treated", "n_unmatched", "n_control_patients")
DQ_NOT_PEOPLE = {"load_attempts", "files_received", "files_loaded", "files_rejected", "duplicate_attempts"}


def tables(dq_counts: tuple[str, ...]) -> list[Table]:
    return [
        Table("mart_demand_reduction_by_area",
              ("design", *GEO, "cohort_fy", "population", "subgroup", "window_months", "measure"),
              DEMAND_COUNTS,
              (
                  Ratio("pre_mean", _terms("pre_total"), _terms("n_patients")),
                  Ratio("post_mean", _terms("post_total"), _terms("n_patients")),
                  Ratio("pct_change", _terms("post_total"), _terms("pre_total"), 100, -100),
                  Ratio(("pct_change_ci_low", "pct_change_ci_high"), _terms("post_total"), _terms("pre_total"),
                        100, -100),
                  Ratio("control_pre_mean", None, _terms("n_matched"), lattice=CONTROLS_LATTICE),
                  Ratio("control_post_mean", None, _terms("n_matched"), lattice=CONTROLS_LATTICE),
                  Ratio("did_mean", None, _terms("n_matched"), lattice=CONTROLS_LATTICE),
                  Ratio(("did_ci_low", "did_ci_high"), None, _terms("n_matched"), lattice=CONTROLS_LATTICE),
                  Ratio("cost_change_gbp", (("post_total", 1), ("pre_total", -1)), (), _cost_scale),
              ),
              # every measure of a group counts the same people
              shared={c: ("measure",) for c in ("n_patients", "n_matched", "n_unmatched")}),
        Table("mart_cohort_attrition", (*GEO, "cohort_fy", "window_months"), ATTRITION_COUNTS),
        Table("mart_wellbeing_outcomes", (*GEO, "cohort_fy", "instrument", "item"), WELLBEING_COUNTS,
              (
                  Ratio("baseline_mean", None, _terms("n_paired"), lattice=100),
                  Ratio("followup_mean", None, _terms("n_paired"), lattice=100),
                  Ratio("mean_change", None, _terms("n_paired"), lattice=100),
                  Ratio(("mean_change_ci_low", "mean_change_ci_high"), None, _terms("n_paired"), lattice=100),
                  Ratio("improved_pct", _terms("n_improved"), _terms("n_paired"), 100),
                  Ratio("followup_rate_pct", _terms("n_paired"), _terms("n_paired", "n_baseline_only"), 100),
              )),
        Table("mart_equity", (*GEO, "cohort_fy", "dimension", "value"), EQUITY_COUNTS,
              (
                  Ratio("referrals_per_1000", _terms("referrals"), _terms("registered_population"), 1000),
                  Ratio("engaged_pct", _terms("people_engaged"), _terms("referrals"), 100),
                  Ratio("gp_pct_change", _terms("gp_post_total"), _terms("gp_pre_total"), 100, -100),
                  Ratio("swemwbs_mean_change", None, _terms("swemwbs_n_paired"), lattice=100),
              )),
        Table("mart_referral_pathway", (*GEO, "month", "category", "value"), ("referrals", "referrals_total"),
              (Ratio("pct_of_referrals", _terms("referrals"), _terms("referrals_total"), 100),),
              shared={"referrals_total": ("category", "value")}),
        Table("mart_rollout_pcn_month", ("pcn_code", "month"), PCN_COUNTS,
              (
                  Ratio("referrals_per_1000_annualised", _terms("referrals"), _terms("registered_population"),
                        12000),
                  Ratio("caseload_per_wte_annualised", _terms("referrals"), (), _wte_scale),
                  Ratio("declined_pct", _terms("declined_referrals"), _terms("referrals"), 100),
              )),
        Table("mart_rollout_progress", (*GEO, "financial_year"), PROGRESS_COUNTS,
              (
                  Ratio("pro_rata_ambition", _terms("registered_population"), (), AMBITION / ENGLAND_POPULATION),
                  Ratio("pct_of_ambition", _terms("cumulative_referrals"), _terms("registered_population"),
                        100 * ENGLAND_POPULATION / AMBITION),
              )),
        Table("mart_staggered_did", (*GEO, "cohort_fy", "population", "measure", "estimate", "event_month"),
              SDID_COUNTS,
              (
                  # base-block events (rounded to 5) over 12 x n_treated; engaged people over n_treated
                  Ratio("treated_base_mean", None, _terms("n_treated"), 1 / 12),
                  Ratio("engaged_share", None, _terms("n_treated")),
              ),
              # a cohort's panel is the same for every measure, estimate and event month
              shared={c: ("measure", "estimate", "event_month") for c in SDID_COUNTS}),
        Table("mart_data_quality", ("source", "delivery_month"), dq_counts,
              (Ratio("linkage_rate_pct", _terms("unlinked_rows"), _terms("linkable_rows"), -100, 100),)),
    ]


TRUTH_OF = {"mart_demand_reduction_by_area": "mart_demand_reduction"}


def build_attack(published: dict[str, list[dict]], marts: dict[str, list[dict]]) -> Attack:
    """The attacker with every relation between published counts that the documentation states."""
    dq_cols = [c for c in (published.get("mart_data_quality") or [{}])[0]
               if c.endswith("_rows") or c.startswith("rows_")]
    specs = tables(tuple(c for c in dq_cols if c not in DQ_NOT_PEOPLE))
    truth = {t.name: marts.get(TRUTH_OF.get(t.name, t.name), []) for t in specs}
    a = Attack(specs, published, truth)

    d = "mart_demand_reduction_by_area"
    a.nest_geography(d, DEMAND_COUNTS)
    a.nest_key(d, "cohort_fy", "all", None, DEMAND_COUNTS, "cohort years vs all")
    for sub in ("frequent_attenders", "ltc", "ltc_under_80", "ltc_80_plus"):
        a.nest_key(d, "subgroup", "all", lambda v, s=sub: v == s, DEMAND_COUNTS, "subgroup vs all")
    a.nest_key(d, "subgroup", "ltc", lambda v: v in ("ltc_under_80", "ltc_80_plus"), DEMAND_COUNTS,
               "ltc age bands vs ltc")
    a.nest_key(d, "population", "referred", lambda v: v == "engaged", DEMAND_COUNTS, "engaged vs referred")
    a.nest_key(d, "window_months", 6, lambda v: v == 12, ("n_patients",), "12- vs 6-month window")
    a.within_row(d, "n_patients", ["n_matched", "n_unmatched"], True, "matched + unmatched")

    c = "mart_cohort_attrition"
    a.nest_geography(c, ATTRITION_COUNTS)
    a.nest_key(c, "cohort_fy", "all", None, ATTRITION_COUNTS, "cohort years vs all")
    a.nest_key(c, "window_months", 6, lambda v: v == 12, ("eligible", "engaged"), "12- vs 6-month window")
    a.within_row(c, "referred", ["excluded_incomplete_follow_up", "excluded_not_registered_throughout",
                                 "excluded_died", "eligible"], True, "excluded + eligible")
    a.within_row(c, "eligible", ["engaged"], False, "engaged vs eligible")

    w = "mart_wellbeing_outcomes"
    a.nest_geography(w, WELLBEING_COUNTS)
    a.nest_key(w, "cohort_fy", "all", None, WELLBEING_COUNTS, "cohort years vs all")
    a.within_row(w, "n_paired", ["n_improved"], False, "improved vs paired")

    e = "mart_equity"
    a.nest_geography(e, EQUITY_COUNTS)
    a.nest_key(e, "cohort_fy", "all", None, EQUITY_COUNTS, "cohort years vs all")
    for dim in ("imd_quintile", "age_band", "sex", "ethnic_group"):
        a.nest(e, lambda r, dim=dim: (*[r[k] for k in (*GEO, "cohort_fy")], "all", "all")
               if r["dimension"] == dim else None, lambda g: g, EQUITY_COUNTS, "values of a dimension", exact=True)
    a.within_row(e, "referrals", ["people_engaged"], False, "engaged vs referred")
    a.within_row(e, "referrals", ["outcome_n_patients"], False, "with outcome vs referred")

    p = "mart_referral_pathway"
    a.nest_geography(p, ("referrals", "referrals_total"))
    # the values of the source (or the outcome) of a month's referrals add up to its referrals_total
    by_month: dict[tuple, list[dict]] = defaultdict(list)
    for r in a.rows[p].values():
        if r["category"] in ("referral_source", "outcome"):
            by_month[(r["geography_level"], r["geography_code"], r["month"], r["category"])].append(r)
    for rows in by_month.values():
        a.relate(a.cell(p, rows[0], "referrals_total"), [a.cell(p, r, "referrals") for r in rows], True,
                 "values of a category")

    m, g = "mart_rollout_pcn_month", "mart_rollout_progress"
    for col in ("people_referred", "declined_referrals", "closed_referrals", "referrals_with_first_contact"):
        a.within_row(m, "referrals", [col], False, f"{col} vs referrals")
    a.within_row(m, "closed_referrals", ["closed_referrals_with_contacts"], False, "with contacts vs closed")
    by_year: dict[tuple, list[dict]] = {}
    for r in a.rows[m].values():
        by_year.setdefault((r["pcn_code"], r["financial_year"]), []).append(r)
    for (pcn, fy), months in by_year.items():
        year = a.rows[g].get(("pcn", pcn, fy))
        if year is not None:
            a.relate(a.cell(g, year, "referrals"), [a.cell(m, r, "people_referred") for r in months], True,
                     "PCN months vs its year")
            a.relate(a.cell(g, year, "all_referrals"), [a.cell(m, r, "referrals") for r in months], True,
                     "PCN months vs its year")
    a.nest_geography(g, PROGRESS_COUNTS)
    years = sorted({k[2] for k in a.rows[g]})
    for k, r in a.rows[g].items():
        i = years.index(k[2])
        earlier = a.rows[g].get((k[0], k[1], years[i - 1])) if i else None
        for cum, inc in (("cumulative_referrals", "referrals"), ("cumulative_all_referrals", "all_referrals")):
            parts = [a.cell(g, r, inc)] + ([a.cell(g, earlier, cum)] if earlier else [])
            a.relate(a.cell(g, r, cum), parts, earlier is not None or i == 0, "cumulative by year")

    s = "mart_staggered_did"
    a.nest_geography(s, SDID_COUNTS)
    a.nest_key(s, "cohort_fy", "all", None, SDID_COUNTS, "cohort years vs all")
    a.nest_key(s, "population", "referred", lambda v: v == "engaged", SDID_COUNTS, "engaged vs referred")

    q = "mart_data_quality"
    counts = a.tables[q].counts
    for col in ("rows_loaded", "rows_rejected"):
        a.within_row(q, "rows_read", [col], False, "rows read")
    a.within_row(q, "rows_rejected", [c for c in counts if c.startswith("rows_rejected_")][:1], False,
                 "rejected by a rule")
    return a


def read_schema(schema: str, names: list[str]) -> dict[str, list[dict]]:
    from psycopg.rows import dict_row

    out = {}
    with db.connect("warehouse", row_factory=dict_row) as conn:
        for name in names:
            rows = conn.execute(sql.SQL("select * from {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
            out[name] = [{k: (float(v) if hasattr(v, "as_tuple") else v) for k, v in r.items()} for r in rows]
    return out


def summary(found: list[dict]) -> dict[str, int]:
    return dict(Counter(f"{f['table']}: {f['route']}" for f in found).most_common())


PUBLISHED = ["mart_demand_reduction_by_area", "mart_cohort_attrition", "mart_wellbeing_outcomes", "mart_equity",
             "mart_referral_pathway", "mart_rollout_pcn_month", "mart_rollout_progress", "mart_staggered_did",
             "mart_data_quality"]
MARTS = [TRUTH_OF.get(n, n) for n in PUBLISHED]


CLOSED_ROUTES = ("published unrounded", "mean inversion")


def _attack_published(output_dir: Path) -> list[dict]:
    published, marts = read_schema("published", PUBLISHED), read_schema("marts", MARTS)
    assert all(published.values()), "a published table is empty: the attack would prove nothing"
    attack = build_attack(published, marts)
    # the attacker must have something to work with: every route has relations or figures
    assert len(attack.relations) > 1000 and len(attack.cells) > 10000
    attack.run()
    found = attack.disclosures()
    (output_dir / "attack.json").write_text(json.dumps(
        {"cells": len(attack.cells), "relations": len(attack.relations), "recovered": len(found),
         "by_route": summary(found), "examples": [{**f, "key": list(f["key"])} for f in found[:50]]},
        indent=2, default=str))
    return found


def test_attacker_recovers_no_small_count_by_mean_inversion(built_warehouse: Path, output_dir: Path) -> None:
    """No count in 1..7 printed unrounded (England included) or pinned through a mean, rate,
    percentage or interval: every figure is what the rounded counts give, or an estimate to 2 dp."""
    found = _attack_published(output_dir)
    closed = [f for f in found if f["route"].startswith(CLOSED_ROUTES)]
    assert not closed, f"{len(closed)} counts in 1..7 recovered: {summary(closed)}"


def test_attacker_recovers_no_small_count(built_warehouse: Path, output_dir: Path) -> None:
    """Every route chained, a suppressed count taken as any value of 0 or more (secondary suppression
    withholds zeros and larger counts too, and no column tells them apart): nothing in 1..7 pinned."""
    found = _attack_published(output_dir)
    assert not found, f"{len(found)} counts in 1..7 recovered from published.*: {summary(found)}"


EXACT_FIGURES = {
    "mart_demand_reduction_by_area": ("pre_mean", "post_mean", "pct_change_ci_low", "pct_change_ci_high",
                                      "control_pre_mean", "control_post_mean", "did_mean", "did_ci_low",
                                      "did_ci_high"),
    "mart_wellbeing_outcomes": ("baseline_mean", "followup_mean", "mean_change"),
}


def test_attacker_can_fail(built_warehouse: Path) -> None:
    """A positive control: the published layer with the means and intervals put back at full
    precision beside the rounded counts (as commit 69088ad published them). The attacker must then
    invert them to exact counts and difference those to small ones, or its silence above means nothing."""
    published, marts = read_schema("published", PUBLISHED), read_schema("marts", MARTS)
    for name, cols in EXACT_FIGURES.items():
        spec = next(t for t in tables(()) if t.name == name)
        exact = {tuple(r[k] for k in spec.keys): r for r in marts[TRUTH_OF.get(name, name)]}
        published[name] = [{**r, **{c: exact[tuple(r[k] for k in spec.keys)][c] for c in cols
                                    if r.get(c) is not None}} for r in published[name]]
    attack = build_attack(published, marts)
    attack.run()
    found = attack.disclosures()
    routes = summary(found)
    assert any("mean inversion" in r or "difference" in r or "complement" in r for r in routes), routes
    assert len(found) >= 10, routes


def _published_state() -> dict[str, tuple[int, str]]:
    """Table oid and a digest of the contents of every published table."""
    with db.connect("warehouse") as conn:
        names = [r[0] for r in conn.execute(
            "select c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
            "where n.nspname = 'published' and c.relkind = 'r' order by 1")]
        state = {}
        for name in names:
            ident = sql.Identifier("published", name)
            oid = conn.execute(sql.SQL("select {}::regclass::oid").format(
                sql.Literal(f'published."{name}"'))).fetchone()[0]
            digest = conn.execute(sql.SQL("select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
                                          "from {} as t").format(ident)).fetchone()[0]
            state[name] = (oid, digest)
    return state


def _bi_reader_reads(schema: str, name: str) -> bool:
    import psycopg

    with db.connect("warehouse", "spw_bi_reader", autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("select 1 from {} limit 1").format(sql.Identifier(schema, name)))
        except psycopg.errors.InsufficientPrivilege:
            return False
    return True


def test_failed_disclosure_test_keeps_previous_published_tables(built_warehouse: Path) -> None:
    """Build, test, swap: a build whose disclosure test fails (counts published unrounded) fails and
    swaps nothing in; the readers keep the previous tables. A good build then swaps new tables in,
    which the BI reader can read."""
    from spw.dbtrun import run_dbt

    before = _published_state()
    assert "mart_demand_reduction" in before and len(before) >= 9
    # unit tests excluded: they would stop the unsafe models before their data tests could run
    leak = run_dbt(["build", "--select", "path:models/published", "--exclude", "resource_type:unit_test",
                    "--vars", "{disclosure_test_unrounded: true}"],
                   check=False, capture=True)
    out = leak.stdout + leak.stderr
    assert leak.returncode != 0, "a build with unrounded counts passed its disclosure tests"
    assert "disclosure_controlled" in out and "nothing swapped in" in out, out[-3000:]
    assert _published_state() == before, "a published table changed although its disclosure test failed"
    # the untested (here: unsafe) tables wait in the shadow schema, where no reader can look
    assert not _bi_reader_reads("published_shadow", "mart_cohort_attrition")

    good = run_dbt(["build", "--select", "path:models/published"], check=False, capture=True)
    assert good.returncode == 0, (good.stdout + good.stderr)[-3000:]
    after = _published_state()
    assert after.keys() == before.keys()
    for name, (oid, digest) in after.items():
        assert oid != before[name][0], f"published.{name} was not swapped"
        assert digest == before[name][1], f"published.{name}: a rebuild from the same marts differs"
        assert _bi_reader_reads("published", name), f"the BI reader lost published.{name} in the swap"
