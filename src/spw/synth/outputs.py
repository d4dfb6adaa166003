"""Turn one chunk's events into contract columns and append them to the monthly delivery files."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spw.synth import params as P
from spw.synth.activity import Context, Referrals
from spw.synth.population import Patients
from spw.synth.timeline import NEVER, Timeline
from spw.synth.writer import Landing


def lookup(table: tuple[str, ...] | list[str], codes: np.ndarray) -> np.ndarray:
    return np.asarray(table, dtype=object)[codes]


def choice(rng: np.random.Generator, probs: tuple[float, ...], n: int) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return rng.choice(p.size, size=n, p=p / p.sum())


def opt_iso(tl: Timeline, days: np.ndarray) -> np.ndarray:
    out = np.full(days.size, "", dtype=object)
    has = days < NEVER
    out[has] = tl.iso(days[has])
    return out


def ids(prefix: str, numbers: range) -> np.ndarray:
    return np.array([f"{prefix}{n:09d}" for n in numbers], dtype=object)


def write_monthly(landing: Landing, source: str, tl: Timeline, day: np.ndarray,
                  build: Callable[[np.ndarray], list[np.ndarray]], suffix: str = "") -> None:
    """Sort rows by day (callers pass rows already in a stable order) and append each month's slice."""
    order = np.argsort(day, kind="stable")
    cols = build(order)
    month = tl.month_of(day[order])
    cuts = np.searchsorted(month, np.arange(tl.n_months + 1))
    for m in range(tl.n_months):
        a, b = cuts[m], cuts[m + 1]
        if b > a:
            landing.append_columns(source, tl.label(m) + suffix, [c[a:b] for c in cols])


def gp_appointments(landing: Landing, ctx: Context, pt: Patients, gp: dict[str, np.ndarray]) -> None:
    """gp: pat, day, status, hcp, mode, natcat, booking (code indices). Resubmission rows are re-sent."""
    tl = ctx.tl
    order = np.lexsort((gp["pat"], gp["day"]))
    g = {k: v[order] for k, v in gp.items()}
    n = g["pat"].size
    appt_id = ids("A", ctx.next_ids("appointment", n))
    ident = pt.ident[g["pat"]]
    practice = lookup(ctx.geo.practice_code, pt.practice[g["pat"]])
    date = tl.iso(g["day"])
    status = lookup(P.APPT_STATUS, g["status"])
    hcp = lookup(P.HCP_TYPES, g["hcp"])
    natcat = lookup(P.NATIONAL_CATEGORIES, g["natcat"])
    mode = lookup(P.APPT_MODES, g["mode"])
    booking = lookup(P.BOOK_TO_APPT, g["booking"])
    # The data-quality fault the resubmission corrects: mode and booking interval sent as unknown.
    faulty = (tl.month_of(g["day"]) == ctx.resub_month) & ctx.resub_practice[pt.practice[g["pat"]]]
    sent_mode = np.where(faulty, P.APPT_MODES[P.UNKNOWN_MODE], mode)
    sent_booking = np.where(faulty, P.BOOK_TO_APPT[P.UNKNOWN_BOOKING], booking)

    def build(o: np.ndarray) -> list[np.ndarray]:
        return [appt_id[o], ident[o], practice[o], date[o], status[o], hcp[o], sent_mode[o], natcat[o],
                sent_booking[o]]

    write_monthly(landing, "gp_appointments", tl, g["day"], build)
    f = np.flatnonzero(faulty)
    if f.size:
        landing.append_columns("gp_appointments", tl.label(ctx.resub_month) + "_resubmission",
                               [appt_id[f], ident[f], practice[f], date[f], status[f], hcp[f], mode[f],
                                natcat[f], booking[f]])


def ae_attendances(landing: Landing, ctx: Context, pt: Patients, rng: np.random.Generator,
                   pat: np.ndarray, day: np.ndarray) -> None:
    tl, geo = ctx.tl, ctx.geo
    order = np.lexsort((pat, day))
    pat, day = pat[order], day[order]
    n = pat.size
    dept = choice(rng, P.EC_DEPT_P, n)
    sub = geo.sub_icb_of_practice()[pt.practice[pat]]
    elsewhere = rng.random(n) < 0.1
    trust = geo.trust_code(np.where(elsewhere, (sub + 1) % geo.n_sub_icbs, sub))
    provider = np.where(np.isin(dept, [2, 3]), geo.utc_code(sub), trust)
    age = pt.age[pat]
    p_admit = np.select([dept == 0, dept == 1, dept == 4], [np.minimum(0.6, 0.1 + 0.005 * age), 0.1, 0.15],
                        0.02)
    admitted = rng.random(n) < p_admit
    dest = np.where(admitted, lookup(P.ADMITTED_SNOMED, choice(rng, P.ADMITTED_P, n)),
                    lookup(P.OTHER_DESTINATIONS, choice(rng, P.OTHER_DEST_P, n)))
    cols = [ids("EC", ctx.next_ids("ec", n)), pt.ident[pat], provider, tl.iso(day),
            lookup(P.EC_DEPT_TYPES, dept), dest]
    write_monthly(landing, "ae_attendances", tl, day, lambda o: [c[o] for c in cols])


def inpatient_admissions(landing: Landing, ctx: Context, pt: Patients, rng: np.random.Generator,
                         pat: np.ndarray, day: np.ndarray, method: np.ndarray, los: np.ndarray) -> None:
    """method: ADMIMETH strings (object array); los in days."""
    tl, geo = ctx.tl, ctx.geo
    order = np.lexsort((pat, day))
    pat, day, method, los = pat[order], day[order], method[order], los[order]
    n = pat.size
    sub = geo.sub_icb_of_practice()[pt.practice[pat]]
    provider = np.where(rng.random(n) < 0.12, "RZ9", geo.trust_code(sub))
    discharge = np.minimum(day + los, pt.death[pat])
    discharge = np.where(discharge > tl.last_day, NEVER, discharge)  # still in hospital at extraction
    cols = [ids("S", ctx.next_ids("spell", n)), pt.ident[pat], provider, tl.iso(day), opt_iso(tl, discharge),
            method]
    write_monthly(landing, "inpatient_admissions", tl, day, lambda o: [c[o] for c in cols])


def _multi(rng: np.random.Generator, table: tuple[str, ...], probs: tuple[float, ...], k: np.ndarray) -> list[str]:
    p = np.asarray(probs) / sum(probs)
    out = []
    for size in k.tolist():
        picks = rng.choice(len(table), size=size, replace=False, p=p) if size else []
        out.append(";".join(table[i] for i in sorted(picks)))
    return out


def sp_referrals(landing: Landing, ctx: Context, pt: Patients, rng: np.random.Generator,
                 refs: Referrals) -> np.ndarray:
    """Writes referrals; returns their referral_id strings (in refs order)."""
    tl, geo = ctx.tl, ctx.geo
    n = refs.pat.size
    ref_id = ids("SPR", ctx.next_ids("referral", n))
    source = choice(rng, P.REFERRAL_SOURCE_P, n)
    practice = pt.practice[refs.pat]
    practice_code = lookup(geo.practice_code, practice)
    from_practice = np.isin(source, P.PRACTICE_SOURCES)
    referring = np.where(from_practice | (rng.random(n) < 0.5), practice_code, "")
    pcn = geo.pcn_at(practice, refs.day)
    pcn_code = np.where(rng.random(n) < 0.05, "", lookup(geo.pcn_code, pcn))
    worker = np.array([f"LW{geo.pcn_code[c][1:]}-{w}" for c, w in
                       zip(pcn.tolist(), rng.integers(1, 4, size=n).tolist(), strict=True)], dtype=object)
    reasons = _multi(rng, P.REFERRAL_REASONS, P.REFERRAL_REASON_P, 1 + rng.binomial(2, 0.35, size=n))
    engaged = np.isin(refs.outcome, [0, 1]) & (refs.contacts > 0)
    activities = _multi(rng, P.ACTIVITIES, P.ACTIVITY_P, np.where(engaged, 1 + rng.binomial(2, 0.4, size=n), 0))
    cols = [ref_id, pt.ident[refs.pat], tl.iso(refs.day), lookup(P.REFERRAL_SOURCES, source), referring,
            pcn_code, worker, np.array(reasons, dtype=object), lookup(P.OUTCOMES, refs.outcome),
            opt_iso(tl, refs.first_contact), opt_iso(tl, refs.discharge), refs.contacts.astype(str),
            np.array(activities, dtype=object)]
    write_monthly(landing, "sp_referrals", tl, refs.day, lambda o: [c[o] for c in cols])
    return ref_id


def sps_appointments(rng: np.random.Generator, ctx: Context, pt: Patients, refs: Referrals) -> dict[str, np.ndarray]:
    """Link-worker contacts booked in the GP system (national category Social Prescribing Service)."""
    tl = ctx.tl
    live = np.isin(refs.outcome, [0, 1]) & (refs.first_contact < NEVER)
    r = np.flatnonzero(live)
    booked = np.maximum(rng.binomial(refs.contacts[r], 0.8), 1)
    rep = np.repeat(r, booked)
    first = np.concatenate([[True], rep[1:] != rep[:-1]]) if rep.size else np.zeros(0, bool)
    lo = refs.first_contact[rep]
    hi = np.minimum(np.where(refs.discharge[rep] < NEVER, refs.discharge[rep], tl.last_day),
                    pt.reg_end[refs.pat[rep]])
    day = np.where(first, lo, lo + (rng.random(rep.size) * np.maximum(hi - lo + 1, 1)).astype(np.int64))
    keep = day <= np.minimum(hi, tl.last_day)
    rep, day = rep[keep], day[keep]
    n = rep.size
    return {
        "pat": refs.pat[rep], "day": day,
        "status": choice(rng, (0.9, 0.07, 0.03), n),
        "hcp": np.full(n, 1), "mode": choice(rng, P.SPS_MODE_P, n),
        "natcat": np.full(n, P.NATIONAL_CATEGORIES.index(P.SOCIAL_PRESCRIBING)),
        "booking": choice(rng, P.SPS_BOOK_P, n),
    }


def sp_wellbeing(landing: Landing, ctx: Context, pt: Patients, rng: np.random.Generator, refs: Referrals,
                 ref_id: np.ndarray) -> None:
    """Baseline at first contact, follow-up at discharge (engaged only), with attrition."""
    tl, geo = ctx.tl, ctx.geo
    live = np.isin(refs.outcome, [0, 1]) & (refs.first_contact < NEVER)
    base = live & (rng.random(refs.pat.size) < 0.85)
    follow = base & (refs.outcome == 0) & (refs.discharge < NEVER) & (rng.random(refs.pat.size) < 0.65)
    ons4 = rng.random(refs.pat.size) < 0.75
    wemwbs = geo.pcn_wemwbs[geo.pcn_at(pt.practice[refs.pat], refs.day)]
    z0 = rng.normal(0, 1, refs.pat.size)
    z1 = z0 + 0.45 + rng.normal(0, 0.5, refs.pat.size)
    rows: list[tuple[int, int, str, str, str, float]] = []  # (day, ref, type, instrument, item, score)
    for kind, mask, z, day in (("baseline", base, z0, refs.first_contact), ("follow_up", follow, z1, refs.discharge)):
        for i in np.flatnonzero(mask).tolist():
            if wemwbs[i]:
                rows.append((day[i], i, kind, "WEMWBS", "total", np.clip(np.rint(41 + 8.5 * z[i]), 14, 70)))
            else:
                rows.append((day[i], i, kind, "SWEMWBS", "total", np.clip(np.rint(20 + 4.5 * z[i]), 7, 35)))
            if ons4[i]:
                noise = rng.normal(0, 1, 4)
                for item, mean, slope, e in zip(P.ONS4_ITEMS, (5.2, 5.8, 5.3, 5.4), (2.0, 1.8, 1.9, -1.8),
                                                noise, strict=True):
                    rows.append((day[i], i, kind, "ONS4", item, np.clip(np.rint(mean + slope * z[i] + e), 0, 10)))
    if not rows:
        return
    day = np.array([r[0] for r in rows], dtype=np.int64)
    cols = [ids("WB", ctx.next_ids("assessment", len(rows))),
            ref_id[np.array([r[1] for r in rows])], tl.iso(day),
            np.array([r[2] for r in rows], dtype=object), np.array([r[3] for r in rows], dtype=object),
            np.array([r[4] for r in rows], dtype=object),
            np.array([str(int(r[5])) for r in rows], dtype=object)]
    write_monthly(landing, "sp_wellbeing", tl, day, lambda o: [c[o] for c in cols])
