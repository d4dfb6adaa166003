"""Calibration study (methods §4c): bias, SD of z and 95% coverage of each published estimator.

For every seed and scenario the generator's array path (`spw.synth.arrays`, no files) draws one synthetic
ICB; the numpy estimators (before/after §3, matched v2 §4, staggered §4b) run on the same arrays (common
seeds), and each estimate is set against the planted effect over exactly the patients it analysed.
Per-seed results are appended to a JSON-lines cache, so an interrupted run resumes and a partial run still
gives a table (with the number of seeds stated). Run on demand, never in `make test`:

    nice -n 19 .spw/venvs/airflow/bin/python benchmarks/calibrate.py --seeds 200 --patients 100000
    .spw/venvs/airflow/bin/python benchmarks/calibrate.py --report   # table + chart from the cache

The staggered rows come from `spw.estimators.staggered.estimate`, the numpy reference that the warehouse's
SQL is tested equal to, so the study tests the estimator the warehouse publishes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from spw.estimators import matched as M  # noqa: E402
from spw.estimators import staggered as S  # noqa: E402
from spw.estimators.before_after import before_after  # noqa: E402
from spw.synth import arrays  # noqa: E402
from spw.synth.params import SynthParams  # noqa: E402
from spw.synth.truth import design_truth, window_effect  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "results" / "calibration"
DOC = ROOT / "docs" / "calibration.md"
CHART = ROOT / "docs" / "img" / "calibration-coverage.svg"
W = 12
MEASURES = ("gp_appointments", "emergency_admissions")
SCENARIOS: dict[str, dict] = {
    "baseline": {},
    "no_effect": {"effect_scale": 0.0},
    "episodes_3_months": {"episode_months": 3.0},
    "strong_selection": {"referral_use_power": 3.0},
    "practice_effects": {"practice_sd": 0.3, "practice_month_sd": 0.15},
    "use_dependent_exits": {"exit_rate": 0.06, "exit_use_power": 2.0},
}
ESTIMATORS = ("staggered", "matched", "before_after")
POPULATIONS = ("referred", "engaged")
HORIZON = S.EFFECT_MONTHS


@lru_cache(maxsize=2)
def _multipliers(codes: tuple[str, ...]) -> np.ndarray:
    return S.multipliers(codes, 999)


def one_seed(scenario: str, seed: int, patients: int) -> list[dict]:
    """Every estimator x population x measure on one seed: estimate, SE, interval, truth, base."""
    p = replace(SynthParams(), **SCENARIOS[scenario])
    a = arrays.simulate(patients, seed, p)
    out: list[dict] = []
    matches = M.match(a, W)
    panel = S.from_month_panel(a, a.engaged)

    def row(est: str, pop: str, measure: str, estimate: float | None, se: float | None, low: float | None,
            high: float | None, truth: float | None, base: float | None, n: int, **extra) -> None:
        out.append({"scenario": scenario, "seed": seed, "estimator": est, "population": pop, "measure": measure,
                    "estimate": estimate, "se": se, "low": low, "high": high, "truth": truth, "base": base,
                    "n": n, **extra})

    for measure in MEASURES:
        y, eff = a.counts[measure], a.effect[measure]
        for pop in POPULATIONS:
            mask = a.engaged if pop == "engaged" else np.ones(a.n, bool)
            # Before/after: eligible index patients of the population, W = 12 (methods §1, §3).
            idx = matches.index[mask[matches.index]]
            t = matches.t[mask[matches.index]]
            pre = M.window_sums(y, idx, t - W, t)
            post = M.window_sums(y, idx, t + 1, t + W + 1)
            ba = before_after(pre, post)
            truth = float(window_effect(eff, idx, t, W).mean()) if idx.size else None
            row("before_after", pop, measure, ba.mean_d, ba.se, ba.ci_low, ba.ci_high, truth, ba.pre_mean, ba.n)
            md = M.did(a, matches, measure, None if pop == "referred" else a.engaged)
            tr = design_truth(eff, md.rows, md.t, W, a.engaged)["per_patient"]
            iv = md.did
            row("matched", pop, measure, md.did_mean, iv and iv.se, iv and iv.low, iv and iv.high, tr,
                md.pre_mean, md.n_matched)
        sd = S.estimate(panel, y, boot=_multipliers(tuple(panel.practice_codes)))
        tr = design_truth(eff, sd.treated_rows, sd.treated_cohort, HORIZON, a.engaged)
        for pop, summ, truth in (("referred", sd.referred, tr["per_patient"]),
                                 ("engaged", sd.engaged, tr["per_engaged_patient"])):
            if summ is None:
                continue
            base = HORIZON * float(sd.referred.base_mean) if sd.referred else None
            # The placebo test and event study are kept: they are what warns a reader of a violated design.
            row("staggered", pop, measure, summ.att, summ.att_se, summ.att_ci_low, summ.att_ci_high, truth, base,
                sd.n_treated, pretrend_p=summ.pretrend_p, theta_e=[round(float(v), 6) for v in summ.theta])
    return out


def cache_file(scenario: str, patients: int, first_seed: int = 1) -> Path:
    """One file per worker (first seed), so workers running side by side never share a file."""
    suffix = "" if first_seed == 1 else f"_from{first_seed}"
    return CACHE / f"{scenario}_{patients}{suffix}.jsonl"


def cached(scenario: str, patients: int) -> list[dict]:
    rows: list[dict] = []
    files = [*CACHE.glob(f"{scenario}_{patients}.jsonl"), *sorted(CACHE.glob(f"{scenario}_{patients}_from*.jsonl"))]
    for f in files:
        for line in f.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a stopped worker
                continue
    return rows


def unique(rows: list[dict]) -> list[dict]:
    """One row per (scenario, seed, estimator, population, measure): two workers may overlap on a seed."""
    seen: dict[tuple, dict] = {}
    for r in rows:
        seen.setdefault((r["scenario"], r["seed"], r["estimator"], r["population"], r["measure"]), r)
    return list(seen.values())


def done_seeds(scenario: str, patients: int) -> set[int]:
    return {r["seed"] for r in cached(scenario, patients)}


def run(seeds: int, patients: int, scenarios: list[str], first_seed: int) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    done = {s: done_seeds(s, patients) for s in scenarios}
    for seed in range(first_seed, first_seed + seeds):  # seeds outermost: a partial run stays balanced
        for s in scenarios:
            if seed in done[s]:
                continue
            began = time.perf_counter()
            rows = one_seed(s, seed, patients)
            with cache_file(s, patients, first_seed).open("a") as fh:
                fh.write("".join(json.dumps(r) + "\n" for r in rows))
            print(f"{s} seed {seed}: {time.perf_counter() - began:.1f} s", flush=True)


def load(patients: int) -> list[dict]:
    return unique([r for s in SCENARIOS for r in cached(s, patients)])


def summarise(rows: list[dict]) -> list[dict]:
    """Per scenario x estimator x population x measure: seeds, bias % of base, SD of z, coverage, width."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["estimator"], r["population"], r["measure"]), []).append(r)
    # Seeds common to every estimator of a scenario (a seed cut short by an interrupted write is left out).
    out = []
    for key, rs in groups.items():
        ok = [r for r in rs if r["estimate"] is not None and r["truth"] is not None and r["se"]]
        if not ok:
            continue
        est = np.array([r["estimate"] for r in ok])
        truth = np.array([r["truth"] for r in ok])
        se = np.array([r["se"] for r in ok])
        base = np.array([r["base"] for r in ok])
        cover = np.array([r["low"] <= r["truth"] <= r["high"] for r in ok])
        z = (est - truth) / se
        out.append({"scenario": key[0], "estimator": key[1], "population": key[2], "measure": key[3],
                    "seeds": len(ok), "bias_pct": float(100 * (est - truth).mean() / base.mean()),
                    "bias_pct_mc_se": float(100 * (est - truth).std(ddof=1) / base.mean() / math.sqrt(len(ok)))
                    if len(ok) > 1 else float("nan"),
                    "sd_z": float(z.std(ddof=1)) if len(ok) > 1 else float("nan"),
                    "coverage": float(cover.mean()),
                    "width_pct": float(100 * np.mean([r["high"] - r["low"] for r in ok]) / base.mean()),
                    "truth_pct": float(100 * truth.mean() / base.mean()),
                    "n_mean": float(np.mean([r["n"] for r in ok]))})
    order = {s: i for i, s in enumerate(SCENARIOS)}
    est_order = {e: i for i, e in enumerate(ESTIMATORS)}
    out.sort(key=lambda r: (r["measure"] != "gp_appointments", r["measure"], r["population"] != "referred",
                            order[r["scenario"]], est_order[r["estimator"]]))
    return out


def chart(summary: list[dict], path: Path) -> None:
    """Coverage per scenario and estimator (GP appointments, referred), as a hand-written SVG bar chart."""
    rows = [r for r in summary if r["measure"] == "gp_appointments" and r["population"] == "referred"]
    scen = [s for s in SCENARIOS if any(r["scenario"] == s for r in rows)]
    colours = {"staggered": "#005eb8", "matched": "#ed8b00", "before_after": "#999999"}
    w, h, left, top, bottom = 760, 360, 60, 30, 90
    plot_w, plot_h = w - left - 20, h - top - bottom
    group = plot_w / max(len(scen), 1)
    bar = group / (len(ESTIMATORS) + 1)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
           f'font-size="11">', f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13">95% interval coverage of the truth, GP appointments, '
           f'referred (line: 95%, dashed: 90% target)</text>']
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - v)
        svg.append(f'<line x1="{left}" x2="{w - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{int(v * 100)}%</text>')
    for v, dash in ((0.95, ""), (0.90, ' stroke-dasharray="4 3"')):
        y = top + plot_h * (1 - v)
        svg.append(f'<line x1="{left}" x2="{w - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#333"{dash}/>')
    for i, s in enumerate(scen):
        x0 = left + i * group + bar / 2
        for j, e in enumerate(ESTIMATORS):
            r = next((r for r in rows if r["scenario"] == s and r["estimator"] == e), None)
            if r is None:
                continue
            bh = plot_h * r["coverage"]
            svg.append(f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - bh:.1f}" width="{bar * 0.9:.1f}" '
                       f'height="{bh:.1f}" fill="{colours[e]}"><title>{s} {e}: {r["coverage"]:.0%}</title></rect>')
            svg.append(f'<text x="{x0 + j * bar + bar * 0.45:.1f}" y="{top + plot_h - bh - 3:.1f}" '
                       f'text-anchor="middle" font-size="9">{100 * r["coverage"]:.0f}</text>')
        svg.append(f'<text x="{left + (i + 0.5) * group:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                   f'{s.replace("_", " ")}</text>')
    finish_svg(svg, [(e.replace("_", "/"), colours[e]) for e in ESTIMATORS], 170, h - 30, path)


def finish_svg(svg: list[str], legend: list[tuple[str, str]], step: int, y: int, path: Path) -> None:
    """Appends a legend row (a colour box and its label every `step` px from x = 60) and writes the SVG."""
    for j, (label, colour) in enumerate(legend):
        x = 60 + j * step
        svg.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>')
        svg.append(f'<text x="{x + 16}" y="{y + 10}">{label}</text>')
    svg.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(svg) + "\n", encoding="utf-8")


def table(summary: list[dict]) -> str:
    lines = ["| measure | population | scenario | estimator | seeds | mean n | truth % | bias % (MC se) | SD of z "
             "| coverage | width % |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in summary:
        lines.append(f"| {r['measure']} | {r['population']} | {r['scenario']} | {r['estimator']} | {r['seeds']} "
                     f"| {r['n_mean']:.0f} | {r['truth_pct']:.1f} | {r['bias_pct']:+.1f} ({r['bias_pct_mc_se']:.1f}) "
                     f"| {r['sd_z']:.2f} | {r['coverage']:.0%} | {r['width_pct']:.1f} |")
    return "\n".join(lines)


def write_doc(summary: list[dict], patients: int) -> None:
    """Replaces the generated block of docs/calibration.md (between its markers) with the table."""
    start, end = "<!-- calibration table: benchmarks/calibrate.py --report -->", "<!-- end of calibration table -->"
    seeds = sorted({(r["scenario"], r["seeds"]) for r in summary if r["estimator"] == "staggered"})
    seconds = [float(line.rsplit(":", 1)[1].split()[0]) for log in sorted(CACHE.glob("run*.log"))
               for line in log.read_text().splitlines() if line.count(" seed ") == 1 and line.endswith(" s")]
    head = (f"{patients:,} patients per seed; seeds per scenario: "
            + ", ".join(f"{s} {n}" for s, n in seeds)
            + (f"; {len(seconds)} seed x scenario runs took {sum(seconds) / 60:.0f} min in all "
               f"(median {np.median(seconds):.1f} s each) under `nice -n 19` on the shared machine" if seconds else ""))
    replace_block(start, end, f"{head}.\n\n{table(summary)}")


def replace_block(start: str, end: str, body: str) -> None:
    """Puts `body` between the marker lines `start` and `end` of docs/calibration.md (if both are there)."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if start not in text or end not in text:
        return
    block = f"{start}\n{body}\n{end}"
    DOC.write_text(text[:text.index(start)] + block + text[text.index(end) + len(end):], encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    ap.add_argument("--report", action="store_true",
                    help="only summarise the cache, and write the table, chart and summary (a run only prints)")
    args = ap.parse_args(argv)
    if not args.report:
        run(args.seeds, args.patients, args.scenarios, args.first_seed)
        print(table(summarise(load(args.patients))))
        return
    summary = summarise(load(args.patients))
    print(table(summary))
    (CACHE / f"summary_{args.patients}.json").write_text(json.dumps(summary, indent=1) + "\n")
    chart(summary, CHART)
    write_doc(summary, args.patients)


if __name__ == "__main__":
    main()
