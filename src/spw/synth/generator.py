"""Orchestration: geography and reference files, then patients chunk by chunk, then truth.json."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from spw.errors import SpwError
from spw.synth import activity as A
from spw.synth import arrays, geography, outputs, population
from spw.synth import params as P
from spw.synth.timeline import NEVER, Timeline, day_number, end_of_period
from spw.synth.truth import Truth, per_patient, window_effect, windows
from spw.synth.writer import TRUTH_FILE, TRUTH_PATIENTS, Landing

IDENTITIES = ("nhs_number", "pseudo_nhs_number")


class SynthError(SpwError, ValueError):
    """Arguments the generator cannot honour."""

RESUBMISSION_MONTH = "2023-06"
RESUBMISSION_PCN = 15  # the largest PCN: its practices' June appointments are re-sent corrected
SDID_ANTICIPATION, SDID_BASE_MONTHS, SDID_HORIZON = 3, 12, 12  # methods §4b defaults
ENGLAND_REGISTERED_POPULATION = 63_000_000  # dbt var england_registered_population (methods §6)
MATERNITY_RATE = 0.06  # spells per person-year, women 18-44 (ADMIMETH 31/32)
TRANSFER_RATE = 0.003  # ADMIMETH 81


@dataclass
class Stats:
    person_days: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("patients", "joiners", "leavers", "deaths", "practice_appointments", "social_prescribing_appointments",
         "gp_appointments_measure", "ae_attendances", "emergency_admissions", "elective_admissions",
         "other_admissions", "referrals", "index_referrals", "engaged_index_referrals",
         "resubmitted_appointments", "events_removed_by_effect"), 0))

    def add(self, key: str, n: int) -> None:
        self.counts[key] += int(n)


def _gp_attributes(rng: np.random.Generator, pt: population.Patients, ev: A.Events) -> dict[str, np.ndarray]:
    n = ev.pat.size
    age = pt.age[ev.pat]
    p_dna = A.p_dna(age, pt.imd[ev.pat])
    u = rng.random(n)
    status = np.where(u < p_dna, 1, np.where(u < p_dna + A.UNKNOWN_STATUS_P, 2, 0))
    mode_young = outputs.choice(rng, P.MODE_P_UNDER_80, n)
    mode_old = outputs.choice(rng, P.MODE_P_80_PLUS, n)
    mode = np.where(age >= 80, mode_old, mode_young)
    natcat = outputs.choice(rng, P.NATCAT_P, n)
    natcat = np.where(mode == P.HOME_VISIT, P.NATCAT_HOME_VISIT, natcat)
    return {"pat": ev.pat, "day": ev.day, "status": status, "hcp": outputs.choice(rng, P.HCP_P, n),
            "mode": mode, "natcat": natcat, "booking": outputs.choice(rng, P.BOOK_P, n)}


def _admissions(rng: np.random.Generator, ctx: A.Context, pt: population.Patients, em: A.Events,
                el: A.Events) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    tl = ctx.tl
    women = (pt.sex == 1) & (pt.age >= 18) & (pt.age <= 44)
    per_month = tl.lengths / population.DAYS_PER_YEAR
    other = A.draw(rng, np.outer(women * MATERNITY_RATE + TRANSFER_RATE, per_month), tl, pt)
    em_age = pt.age[em.pat]
    em_los = np.where(rng.random(em.pat.size) < 0.3, 0, rng.geometric(1 / (2 + em_age / 15)))
    el_los = np.where(rng.random(el.pat.size) < 0.75, 0, rng.geometric(1 / 3, size=el.pat.size))
    is_mat = women[other.pat] & (rng.random(other.pat.size) < MATERNITY_RATE / (MATERNITY_RATE + TRANSFER_RATE))
    other_method = np.where(is_mat, np.where(rng.random(other.pat.size) < 0.85, "31", "32"), "81")
    methods = np.concatenate([
        outputs.lookup(P.EMERGENCY_METHODS, outputs.choice(rng, P.EMERGENCY_METHOD_P, em.pat.size)),
        outputs.lookup(P.ELECTIVE_METHODS, outputs.choice(rng, P.ELECTIVE_METHOD_P, el.pat.size)),
        other_method.astype(object)])
    los = np.concatenate([em_los, el_los, rng.integers(0, 4, size=other.pat.size)]).astype(np.int64)
    pat = np.concatenate([em.pat, el.pat, other.pat])
    day = np.concatenate([em.day, el.day, other.day])
    return pat, day, methods, los, {"emergency_admissions": em.pat.size, "elective_admissions": el.pat.size,
                                    "other_admissions": other.pat.size}


def simulate_chunk(rng: np.random.Generator, ctx: A.Context, pt: population.Patients, landing: Landing,
                   truth: Truth, stats: Stats) -> None:
    tl, p, n = ctx.tl, ctx.p, len(pt)
    ep = A.episodes(rng, pt, p, tl.n_months)
    lam = {s: A.monthly_rates(ctx, pt, ep, s) for s in A.SERVICES}
    gp = _gp_attributes(rng, pt, A.draw(rng, lam["gp"], tl, pt))
    ae = A.draw(rng, lam["ae"], tl, pt)
    em = A.draw(rng, lam["emergency"], tl, pt)
    el = A.draw(rng, lam["elective"], tl, pt)
    gp_ev = A.Events(gp["pat"], gp["day"])
    use = (A.month_counts(gp_ev, tl, n) + p.referral_weight_ae * A.month_counts(ae, tl, n)
           + p.referral_weight_emergency * A.month_counts(em, tl, n))
    if p.exit_rate > 0:
        A.use_dependent_exits(rng, ctx, pt, use)
        gp = {k: v[gp["day"] <= pt.reg_end[gp["pat"]]] for k, v in gp.items()}
        ae, em, el = (e.take(e.day <= pt.reg_end[e.pat]) for e in (ae, em, el))
    idx_day = A.index_referrals(rng, ctx, pt, use)
    refs = A.referral_details(rng, ctx, pt, idx_day)
    engaged = np.zeros(n, dtype=bool)
    engaged[refs.pat[refs.index & np.isin(refs.outcome, [0, 1])]] = True
    gp_drop, ae_drop, em_drop = _planted_effect(rng, ctx, pt, landing, truth, lam, gp, ae, em, idx_day, engaged)
    stats.add("events_removed_by_effect", gp_drop.sum() + ae_drop.sum() + em_drop.sum())
    _write_chunk(rng, ctx, pt, landing, stats, refs, {k: v[~gp_drop] for k, v in gp.items()},
                 ae.take(~ae_drop), em.take(~em_drop), el)
    t0, t1 = tl.first_day, tl.last_day + 1
    stats.person_days += float(np.maximum(0, np.minimum(pt.reg_end + 1, t1) - np.maximum(pt.reg_start, t0)).sum())
    stats.add("patients", n)
    stats.add("joiners", (pt.reg_start >= t0).sum())
    stats.add("deaths", (pt.death < NEVER).sum())
    stats.add("leavers", ((pt.reg_end < NEVER) & (pt.death == NEVER)).sum())
    stats.add("referrals", refs.pat.size)
    stats.add("index_referrals", refs.index.sum())
    stats.add("engaged_index_referrals", engaged.sum())


def _planted_effect(rng: np.random.Generator, ctx: A.Context, pt: population.Patients, landing: Landing,
                    truth: Truth, lam: dict, gp: dict, ae: A.Events, em: A.Events, idx_day: np.ndarray,
                    engaged: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thins the engaged patients' targeted events and records the truth; returns the drop masks."""
    p = ctx.p
    eff_end = A.effect_end(np.where(engaged, idx_day, NEVER), p.effect_months)
    gp_ev = A.Events(gp["pat"], gp["day"])
    gp_target = gp["hcp"] == 0
    gp_drop = A.thin(rng, gp_ev, gp_target, idx_day, eff_end, p.multiplier("gp"))
    ae_drop = A.thin(rng, ae, np.ones(ae.pat.size, bool), idx_day, eff_end, p.multiplier("ae"))
    em_drop = A.thin(rng, em, np.ones(em.pat.size, bool), idx_day, eff_end, p.multiplier("emergency"))
    measured_gp = gp_target & (gp["status"] == 0)
    target_lam = {"gp_appointments": lam["gp"] * (P.HCP_P[0] * A.p_attended(pt))[:, None],
                  "ae_attendances": lam["ae"], "emergency_admissions": lam["emergency"]}
    kept = {"gp_appointments": gp_ev.take(measured_gp & ~gp_drop), "ae_attendances": ae.take(~ae_drop),
            "emergency_admissions": em.take(~em_drop)}
    dropped = {"gp_appointments": gp_ev.take(measured_gp & gp_drop), "ae_attendances": ae.take(ae_drop),
               "emergency_admissions": em.take(em_drop)}
    mult = A.measure_multipliers(p)
    per_patient_truth = _accumulate_truth(ctx, pt, truth, idx_day, eff_end, engaged, target_lam, kept, dropped,
                                          mult)
    landing.append_columns(TRUTH_PATIENTS, "", per_patient_truth)
    return gp_drop, ae_drop, em_drop


def _write_chunk(rng: np.random.Generator, ctx: A.Context, pt: population.Patients, landing: Landing,
                 stats: Stats, refs: A.Referrals, gp: dict, ae: A.Events, em: A.Events, el: A.Events) -> None:
    tl = ctx.tl
    ref_id = outputs.sp_referrals(landing, ctx, pt, rng, refs)
    outputs.sp_wellbeing(landing, ctx, pt, rng, refs, ref_id)
    sps = outputs.sps_appointments(rng, ctx, pt, refs)
    for rows in (gp, sps):
        resub = (tl.month_of(rows["day"]) == ctx.resub_month) & ctx.resub_practice[pt.practice[rows["pat"]]]
        stats.add("resubmitted_appointments", resub.sum())
    stats.add("practice_appointments", gp["pat"].size)
    stats.add("social_prescribing_appointments", sps["pat"].size)
    stats.add("gp_appointments_measure", ((gp["hcp"] == 0) & (gp["status"] == 0)).sum())
    outputs.gp_appointments(landing, ctx, pt, {k: np.concatenate([gp[k], sps[k]]) for k in gp})
    outputs.ae_attendances(landing, ctx, pt, rng, ae.pat, ae.day)
    stats.add("ae_attendances", ae.pat.size)
    ip_pat, ip_day, methods, los, ip_counts = _admissions(rng, ctx, pt, em, el)
    for k, v in ip_counts.items():
        stats.add(k, v)
    outputs.inpatient_admissions(landing, ctx, pt, rng, ip_pat, ip_day, methods, los)
    landing.append_columns("patients", ctx.patients_file, population.rows(pt, ctx.geo, tl))


def _accumulate_truth(ctx: A.Context, pt: population.Patients, truth: Truth, idx_day: np.ndarray,
                      eff_end: np.ndarray, engaged: np.ndarray, target_lam: dict, kept: dict, dropped: dict,
                      mult: dict) -> list:
    """Adds the chunk to the truth cells; returns per-patient columns for truth_patients.csv."""
    n = len(pt)
    referred = np.flatnonzero(idx_day < NEVER)
    columns = [pt.ident[referred], ctx.tl.iso(idx_day[referred]), engaged[referred].astype(int).astype(str)]
    for w in A.WINDOWS:
        win = windows(pt, idx_day, w, ctx.tl.last_day)
        treated = win.eligible & engaged
        rows = np.flatnonzero(treated)
        columns.append(win.eligible[referred].astype(int).astype(str))
        for measure in A.MEASURES:
            expected = np.zeros(n)
            if rows.size:
                # Effect days inside the post window: (index, min(index + W, effect end)].
                last = np.minimum(win.post_end[rows], eff_end[rows])
                integral = A.window_integral(target_lam[measure], rows, idx_day[rows] + 1, last + 1, ctx.tl)
                expected[rows] = (mult[measure] - 1.0) * integral
            realised = -per_patient(dropped[measure], idx_day + 1, win.post_end, n)
            pre = per_patient(kept[measure], win.pre_start, idx_day - 1, n)
            post = per_patient(kept[measure], idx_day + 1, win.post_end, n)
            truth.cell("engaged", measure, w).add(treated, expected, realised, pre, post)
            truth.cell("referred", measure, w).add(win.eligible, expected, realised, pre, post)
            columns.append(np.where(win.eligible[referred], np.char.mod("%.6f", expected[referred]), "")
                           .astype(object))
    return columns + _staggered_truth(ctx, pt, truth, idx_day, engaged, target_lam, kept, dropped, mult)


def _staggered_truth(ctx: A.Context, pt: population.Patients, truth: Truth, idx_day: np.ndarray,
                     engaged: np.ndarray, target_lam: dict, kept: dict, dropped: dict, mult: dict) -> list:
    """Planted effect over the panel patients of the staggered design (methods §4b), months G+1 .. G+12.

    Per patient: in the panel of its own cohort G (registered and alive for all of months G-15 .. G+12, and
    G+12 no later than the cut-off month). The design also drops treated patients of strata without a control
    (n_unmatched): their rows are in truth_patients.csv for an exact comparison.
    """
    tl, n = ctx.tl, len(pt)
    referred = np.flatnonzero(idx_day < NEVER)
    g = np.where(idx_day < NEVER, tl.month_of(np.minimum(idx_day, tl.last_day)), -1)
    first, last = arrays.full_months(tl, pt.reg_start, pt.reg_end, pt.death)
    lead = SDID_ANTICIPATION + SDID_BASE_MONTHS
    panel = ((g >= lead) & (g + SDID_HORIZON <= tl.n_months - 1) & (first <= g - lead)
             & (last >= g + SDID_HORIZON))
    rows = np.flatnonzero(panel)
    share = arrays.effect_share(tl, idx_day[rows], engaged[rows], ctx.p.effect_months)
    columns = [panel[referred].astype(int).astype(str)]
    for measure in A.MEASURES:
        expected, realised = np.zeros(n), np.zeros(n)
        base, post = np.zeros(n, np.int64), np.zeros(n, np.int64)
        if rows.size:
            eff = (mult[measure] - 1.0) * share * target_lam[measure][rows]
            gr = g[rows]
            expected[rows] = window_effect(eff, np.arange(rows.size), gr, SDID_HORIZON)
            counts = A.month_counts(kept[measure], tl, n)[rows]
            removed = A.month_counts(dropped[measure], tl, n)[rows]
            realised[rows] = -window_effect(removed, np.arange(rows.size), gr, SDID_HORIZON)
            post[rows] = window_effect(counts, np.arange(rows.size), gr, SDID_HORIZON)
            base[rows] = window_effect(counts, np.arange(rows.size), gr - lead - 1, SDID_BASE_MONTHS)
        truth.cell("sdid_engaged", measure, SDID_HORIZON).add(panel & engaged, expected, realised, base, post)
        truth.cell("sdid_referred", measure, SDID_HORIZON).add(panel, expected, realised, base, post)
        columns.append(np.where(panel[referred], np.char.mod("%.6f", expected[referred]), "").astype(object))
    return columns


def truth_patients_header(identity: str) -> list[str]:
    head = [identity, "index_date", "engaged"]
    for w in A.WINDOWS:
        head.append(f"eligible_w{w}")
        head += [f"{m}_w{w}" for m in A.MEASURES]
    return [*head, "sdid_panel", *(f"sdid_{m}" for m in A.MEASURES)]


def _reference_files(landing: Landing, geo: geography.Geography, tl: Timeline, service_start: date,
                     registered: np.ndarray | None = None) -> list[dict]:
    practices = geography.practice_rows(geo, tl.start, tl.end, registered)
    landing.write_dicts("practices", tl.label(tl.n_months - 1), practices)
    workforce = geography.workforce_rows(geo, practices, tl.months, service_start)
    quarters: dict[str, list[dict]] = {}
    for r in workforce:
        y, m = int(r["month"][:4]), int(r["month"][5:7])
        quarters.setdefault(f"{y}-Q{(m - 1) // 3 + 1}", []).append(r)
    for name, rows in quarters.items():
        landing.write_dicts("link_worker_workforce", name, rows)
    return practices


LAYOUTS = ("icb", "england")


def generate(out_dir: Path, patients: int = 5000, seed: int = 1, start: date = date(2022, 4, 1),
             months: int = 42, identity: str = "nhs_number", *, today: date | None = None,
             overwrite: bool = False, params: P.SynthParams | None = None, layout: str = "icb") -> dict:
    """Write a synthetic landing folder (every contract source) and `truth.json`; returns a summary.

    layout `icb` (default): one ICB-sized area whose practices' lists are full size, the patients a
    sample of them; `england`: a scaled-down England whose list sizes are the patients registered."""
    began = time.perf_counter()
    identity = "pseudo_nhs_number" if identity == "pseudo" else identity
    if identity not in IDENTITIES:
        raise SynthError(f"identity must be one of {IDENTITIES} or 'pseudo', not {identity!r}")
    if layout not in LAYOUTS:
        raise SynthError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    if not 1 <= patients <= population.MAX_PATIENTS:
        raise SynthError(f"patients must be between 1 and {population.MAX_PATIENTS:,}")
    p = params or P.SynthParams()
    start = start.replace(day=1)
    tl = Timeline(start, end_of_period(start, months, today or date.today()))
    if tl.n_months <= p.lead_in_months:
        raise SynthError(f"the period ({tl.n_months} complete months) must be longer than the "
                         f"{p.lead_in_months}-month lead-in before referrals start")
    out = Path(out_dir)
    scale = max(1.0, patients / (0.8 * geography.total_list())) if layout == "icb" else 1.0
    geo = geography.build(scale) if layout == "icb" else geography.build_england(patients)
    fy = geography.fy_boundaries(tl.start, tl.end)
    if len(fy) > 2:
        geo.move_day = day_number(fy[2])
    landing = Landing(out, identity, overwrite)
    service_start = tl.months[p.lead_in_months]
    # england: list sizes are counted from the patients, so the reference files come after them
    practices = [] if geo.lists_are_registrations else _reference_files(landing, geo, tl, service_start)
    registered = np.zeros((geo.n_practices, len(fy)), dtype=np.int64)
    labels = [tl.label(m) for m in range(tl.n_months)]
    resub_month = labels.index(RESUBMISSION_MONTH) if RESUBMISSION_MONTH in labels else tl.n_months // 2
    ctx = A.Context(tl=tl, geo=geo, p=p, base=A.calibrate(p), service_start=p.lead_in_months,
                    resub_month=resub_month, resub_practice=geo.practice_pcn == RESUBMISSION_PCN,
                    practice_mult=A.practice_effects(seed, geo.n_practices, tl.n_months, p),
                    patients_file=labels[-1])
    landing.create(TRUTH_PATIENTS, "", truth_patients_header(identity))

    truth, stats = Truth(), Stats()
    for k, first in enumerate(range(0, patients, p.chunk_size)):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
        pt = population.generate(rng, first, min(p.chunk_size, patients - first), geo, tl, p, seed, identity)
        simulate_chunk(rng, ctx, pt, landing, truth, stats)
        for period, day in enumerate(day_number(d) for d in fy):
            on_list = (pt.reg_start <= day) & (pt.reg_end >= day)
            np.add.at(registered[:, period], pt.practice[on_list], 1)
    if geo.lists_are_registrations:
        practices = _reference_files(landing, geo, tl, service_start, registered)

    report = _truth_document(ctx, geo, practices, landing, truth, stats, seed, identity, scale, layout)
    (out / TRUTH_FILE).write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return {"out_dir": str(out), "landing_files": len(landing.source_files()),
            "truth_files": [TRUTH_FILE, f"{TRUTH_PATIENTS}.csv"], "rows": dict(landing.rows),
            "seconds": round(time.perf_counter() - began, 2), "truth": report}


def _truth_document(ctx: A.Context, geo: geography.Geography, practices: list[dict], landing: Landing,
                    truth: Truth, stats: Stats, seed: int, identity: str, scale: float, layout: str) -> dict:
    tl, p = ctx.tl, ctx.p
    py = stats.person_days / population.DAYS_PER_YEAR
    c = stats.counts
    multipliers = A.measure_multipliers(p)
    last_practices = {r["practice_code"]: int(r["list_size"]) for r in practices if not r["effective_to"]}
    pcn_pop: dict[str, int] = {}
    for r in practices:
        if not r["effective_to"]:
            pcn_pop[r["pcn_code"]] = pcn_pop.get(r["pcn_code"], 0) + int(r["list_size"])
    return {
        "generator": "spw.synth",
        "parameters": {
            "patients": c["patients"], "seed": seed, "identity": identity, "start": tl.start.isoformat(),
            "end_exclusive": tl.end.isoformat(), "months": tl.n_months,
            "data_cutoff_date": tl.months[-1].replace(day=int(tl.lengths[-1])).isoformat(),
            "service_start": tl.months[ctx.service_start].isoformat(),
            "layout": layout, "list_scale": scale,
            "sample_fraction_of_lists": round(c["patients"] / max(1, sum(last_practices.values())), 6),
            # england layout: how many people of England (var england_registered_population) each
            # registered synthetic patient stands for
            "people_per_registered_patient": (
                round(ENGLAND_REGISTERED_POPULATION / max(1, sum(last_practices.values())), 1)
                if layout == "england" else None),
            "base_rates_per_person_year": {k: round(v, 6) for k, v in ctx.base.items()},
            "synth_params": p.as_dict(),
        },
        "planted_effect": {
            "description": "multiplier on the event rate of engaged index patients (index outcome engaged or "
                           "ongoing) from the day after the index referral to index + 12 months; gp_appointments "
                           "are appointments with hcp_type GP (the measure counts the Attended ones)",
            "months": p.effect_months, "multipliers": multipliers,
        },
        "effects": truth.report(multipliers),
        "staggered": truth.staggered_report(),
        "resubmission": {
            "file": (f"gp_appointments/{tl.label(ctx.resub_month)}_resubmission.csv"
                     if c["resubmitted_appointments"] else None),
            "corrects": f"every appointment in {tl.label(ctx.resub_month)}.csv at the practices of PCN "
                        f"{geo.pcn_code[RESUBMISSION_PCN]}: the original sent appt_mode 'Unknown' and "
                        "time_between_book_and_appt 'Unknown / Data Quality'; the resubmission carries the same "
                        "appointment_id with the true values (status, hcp_type and dates unchanged)",
            "rows": c["resubmitted_appointments"],
        },
        "counts": {**c, "person_years": round(py, 3), "files": len(landing.source_files()),
                   "rows": dict(landing.rows), "practices": geo.n_practices, "pcns": len(geo.pcn_code),
                   "pcn_population_latest": pcn_pop},
        "rates_per_person_year": {
            "practice_appointments": round(c["practice_appointments"] / py, 4),
            "gp_appointments_measure": round(c["gp_appointments_measure"] / py, 4),
            "ae_attendances": round(c["ae_attendances"] / py, 4),
            "emergency_admissions": round(c["emergency_admissions"] / py, 4),
            "elective_admissions": round(c["elective_admissions"] / py, 4),
            "index_referrals": round(c["index_referrals"] / py, 4),
        },
    }
