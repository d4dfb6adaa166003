"""Why the staggered estimate misses under use-driven selection: the experiment behind docs/calibration.md.

Nothing is planted (`effect_scale` 0), so the truth is 0 for every patient and whatever the staggered
estimate finds is the design's own bias. What varies is how strongly referral follows recent use
(`referral_use_power`; 0 = referral unrelated to use) and the practice effects; the estimator is the
warehouse's reference (`spw.estimators.staggered`, GP appointments, population referred), run on the same
data with the default 3 anticipation months and with 6 (`var: sdid_anticipation_months`). Per seed it keeps
the 12-month estimate, its interval, `pretrend_p` and the event study. Resumable like calibrate.py:

    nice .spw/venvs/airflow/bin/python benchmarks/calibrate_selection.py --seeds 30 --patients 100000
    .spw/venvs/airflow/bin/python benchmarks/calibrate_selection.py --report   # table + chart into the doc
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibrate import CACHE, ROOT, _multipliers, finish_svg, replace_block  # noqa: E402

from spw.estimators import staggered as S  # noqa: E402
from spw.synth import arrays  # noqa: E402
from spw.synth.params import SynthParams  # noqa: E402

CHART = ROOT / "docs" / "img" / "calibration-selection-event-study.svg"
MEASURE = "gp_appointments"
ANTICIPATION = (3, 6)
PRACTICE = {"practice_sd": 0.3, "practice_month_sd": 0.15}
VARIANTS: dict[str, dict] = {
    "random_referral": {"referral_use_power": 0.0},
    "power_1": {"referral_use_power": 1.0},
    "default_selection": {},  # referral_use_power 1.5
    "power_2": {"referral_use_power": 2.0},
    "strong_selection": {"referral_use_power": 3.0},
    "practice_effects_random_referral": {"referral_use_power": 0.0, **PRACTICE},
    "practice_effects": PRACTICE,
}
CHARTED = ("random_referral", "default_selection", "practice_effects", "strong_selection")


def cache_file(variant: str, patients: int) -> Path:
    return CACHE / f"selection_{variant}_{patients}.jsonl"


def one_seed(variant: str, seed: int, patients: int) -> list[dict]:
    a = arrays.simulate(patients, seed, replace(SynthParams(), effect_scale=0.0, **VARIANTS[variant]))
    panel = S.from_month_panel(a, a.engaged)
    out = []
    for ant in ANTICIPATION:
        est = S.estimate(panel, a.counts[MEASURE], anticipation=ant, boot=_multipliers(tuple(panel.practice_codes)))
        r = est.referred
        out.append({"variant": variant, "seed": seed, "anticipation": ant, "n": est.n_treated, "att": r.att,
                    "se": r.att_se, "low": r.att_ci_low, "high": r.att_ci_high, "base": 12 * r.base_mean,
                    "pretrend_p": r.pretrend_p, "events": est.event_months.tolist(),
                    "theta_pct": [round(100 * v / r.base_mean, 4) for v in r.theta]})
    return out


def run(seeds: int, first_seed: int, patients: int, variants: list[str]) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    for seed in range(first_seed, first_seed + seeds):
        for v in variants:
            if seed in {r["seed"] for r in load(v, patients)}:
                continue
            began = time.perf_counter()
            rows = one_seed(v, seed, patients)
            with cache_file(v, patients).open("a") as fh:
                fh.write("".join(json.dumps(r) + "\n" for r in rows))
            print(f"{v} seed {seed}: {time.perf_counter() - began:.1f} s", flush=True)


def load(variant: str, patients: int) -> list[dict]:
    f = cache_file(variant, patients)
    rows = []
    for line in f.read_text().splitlines() if f.exists() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a stopped run
            continue
    return rows


def summarise(patients: int) -> list[dict]:
    out = []
    for v in VARIANTS:
        for ant in ANTICIPATION:
            rs = list({r["seed"]: r for r in load(v, patients) if r["anticipation"] == ant and r["se"]}.values())
            if len(rs) < 2:
                continue
            est, se, base = (np.array([r[k] for r in rs]) for k in ("att", "se", "base"))
            p = np.array([r["pretrend_p"] for r in rs])
            out.append({"variant": v, "anticipation": ant, "seeds": len(rs), "n": float(np.mean([r["n"] for r in rs])),
                        "bias_pct": float(100 * est.mean() / base.mean()),
                        "mc_se": float(100 * est.std(ddof=1) / base.mean() / math.sqrt(len(rs))),
                        "sd_z": float((est / se).std(ddof=1)),
                        "coverage": float(np.mean([r["low"] <= 0 <= r["high"] for r in rs])),
                        "pretrend_05": float((p < 0.05).mean()),
                        "events": rs[0]["events"],
                        "theta_pct": np.mean([r["theta_pct"] for r in rs], axis=0).round(2).tolist()})
    return out


def table(summary: list[dict]) -> str:
    lines = ["| variant (nothing planted) | knobs | anticipation | seeds | mean n | bias % (MC se) | SD of z "
             "| interval holds 0 | pretrend_p < 0.05 |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in summary:
        knobs = ", ".join(f"{k}={v}" for k, v in VARIANTS[r["variant"]].items()) or "defaults"
        lines.append(f"| {r['variant']} | {knobs} | {r['anticipation']} | {r['seeds']} | {r['n']:.0f} "
                     f"| {r['bias_pct']:+.1f} ({r['mc_se']:.1f}) | {r['sd_z']:.2f} | {r['coverage']:.0%} "
                     f"| {r['pretrend_05']:.0%} |")
    return "\n".join(lines)


def chart(summary: list[dict], path: Path) -> None:
    """Mean event study (theta_e in % of the treated's base monthly mean), anticipation 3, as an SVG."""
    rows = [r for r in summary if r["anticipation"] == 3 and r["variant"] in CHARTED]
    colours = dict(zip(CHARTED, ("#999999", "#005eb8", "#ed8b00", "#da291c"), strict=True))
    w, h, left, top, bottom = 760, 380, 60, 34, 80
    plot_w, plot_h = w - left - 20, h - top - bottom
    lo, hi = -10.0, 12.0  # the referral spike (+90 to +150%) is off the scale on purpose: it is not the point
    events = np.arange(-15, 13)

    def x(e: float) -> float:
        return left + (e + 15) / 27 * plot_w

    def y(v: float) -> float:
        return top + plot_h * (hi - min(max(v, lo), hi)) / (hi - lo)

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
           f'font-size="11">', f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13">Staggered event study with nothing planted (GP appointments, '
           f'referred): mean theta_e, % of base</text>']
    for v in range(-10, 13, 2):
        svg.append(f'<line x1="{left}" x2="{w - 20}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="{"#333" if v == 0 else "#e5e5e5"}"/>')
        svg.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:+d}</text>')
    for e in range(-15, 13, 3):
        svg.append(f'<text x="{x(e):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{e}</text>')
    svg.append(f'<rect x="{x(-3.5):.1f}" y="{top}" width="{x(-0.5) - x(-3.5):.1f}" height="{plot_h}" '
               f'fill="#f2f2f2"><title>anticipation months: the referral spike, off the scale</title></rect>')
    svg.append(f'<text x="{x(-2):.1f}" y="{top + 12}" text-anchor="middle" font-size="9">spike</text>')
    svg.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 32}" text-anchor="middle">event month e '
               f'(months from referral; base block e = -15 .. -4, effect months 1 .. 12)</text>')
    for r in rows:
        th = dict(zip(r["events"], r["theta_pct"], strict=True))
        for seg in (events[events <= -4], events[events >= 0]):
            pts = " ".join(f"{x(e):.1f},{y(th[int(e)]):.1f}" for e in seg)
            svg.append(f'<polyline points="{pts}" fill="none" stroke="{colours[r["variant"]]}" stroke-width="2"/>')
    finish_svg(svg, [(r["variant"].replace("_", " "), colours[r["variant"]]) for r in rows], 180, h - 26, path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--report", action="store_true", help="only summarise the cache into the doc and chart")
    args = ap.parse_args(argv)
    if not args.report:
        run(args.seeds, args.first_seed, args.patients, args.variants)
    summary = summarise(args.patients)
    print(table(summary))
    if args.report:
        replace_block("<!-- selection table: benchmarks/calibrate_selection.py --report -->",
                      "<!-- end of selection table -->", f"{args.patients:,} patients per seed.\n\n{table(summary)}")
        chart(summary, CHART)


if __name__ == "__main__":
    main()
