"""The board pack as a PDF: four A4 landscape pages drawn with matplotlib from a `report_data.BoardPack`.

1. the answer: headline sentences, the quarter's rollout figures, the scale of the data;
2. run charts (Making Data Count) of referrals, referral rate and caseload per WTE;
3. the primary estimate for every measure with its interval, and its cost consequences;
4. the data-quality note and how to read the pack.
Special-cause points carry a marker shape and a label as well as a colour, so meaning never rests on
colour alone.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from spw.report_data import SPC_MEASURES, BoardPack, data_quality_note

A4_LANDSCAPE = (11.69, 8.27)
INK, MUTED, HIGH, LOW = "#212b32", "#4c6272", "#005eb8", "#d5281b"  # NHS identity colours


def _page(pack: BoardPack, title: str):  # noqa: ANN202 - a matplotlib Figure
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=A4_LANDSCAPE)
    fig.text(0.05, 0.95, title, fontsize=18, weight="bold", color=INK, va="top")
    fig.text(0.05, 0.905, f"{pack.region_name} ({pack.region_code}) social prescribing steering group - "
                          f"{pack.quarter.label}", fontsize=10, color=MUTED, va="top")
    fig.text(0.05, 0.03, "Published, disclosure-controlled figures only (counts rounded to 5, 1-7 suppressed). "
                         "Source: spw warehouse, published schema.", fontsize=7, color=MUTED)
    return fig


def _paragraphs(fig, lines: list[str], top: float, size: float = 11, width: int = 120) -> float:
    y = top
    for line in lines:
        wrapped = textwrap.fill(line, width=width)
        fig.text(0.06, y, wrapped, fontsize=size, color=INK, va="top")
        y -= 0.028 * (wrapped.count("\n") + 1) * size / 11 + 0.012
    return y


def _fmt(v: object, pattern: str = "{:,.0f}") -> str:
    return "not published" if v is None else pattern.format(float(v))  # type: ignore[arg-type]


def _gbp(v: object, decimals: int = 0) -> str:
    """-196 -> '-£196'; None -> 'not published'."""
    if v is None:
        return "not published"
    x = float(v)  # type: ignore[arg-type]
    return f"{'-' if x < 0 else ''}£{abs(x):,.{decimals}f}"


def answer_page(pdf, pack: BoardPack) -> None:
    fig = _page(pack, "What the service is doing for people referred")
    # the warehouse's sentences only (published.mart_headline_effects), the dashboards' words
    sentences = pack.sentences or ["No primary estimate is published for this region yet."]
    y = _paragraphs(fig, ["Primary estimate: staggered difference-in-differences, everyone referred in the "
                          "region since the service began, the 12 months after referral:"], 0.84, 11)
    y = _paragraphs(fig, [f"- {s}" for s in sentences], y - 0.01, 12)
    q = pack.quarter_figures
    y = _paragraphs(fig, ["", "This quarter:",
                          f"- referrals received: {_fmt(q.get('referrals'))}",
                          f"- referrals per 1,000 registered patients (a year): "
                          f"{_fmt(q.get('referrals_per_1000_annualised'), '{:.1f}')}",
                          f"- referrals per link-worker WTE (a year; the guide is 250): "
                          f"{_fmt(q.get('caseload_per_wte_annualised'))}"], y - 0.01, 11)
    if pack.scale:
        _paragraphs(fig, ["", f"Synthetic data: a scaled-down England in which each registered patient stands "
                              f"for about {pack.scale:,.0f} people. Rates and per-person figures read as at full "
                              "size; counts are those of the sample."], y, 9)
    pdf.savefig(fig)


def run_chart_page(pdf, pack: BoardPack) -> None:
    import matplotlib.pyplot as plt

    fig = _page(pack, "Run charts (Making Data Count)")
    axes = fig.subplots(len(SPC_MEASURES), 1, sharex=True, gridspec_kw={"top": 0.85, "bottom": 0.1, "hspace": 0.35})
    for ax, (measure, label) in zip(axes, SPC_MEASURES.items(), strict=True):
        points = pack.spc.get(measure) or []
        ax.set_title(label, fontsize=10, loc="left", color=INK)
        if not points:
            ax.text(0.5, 0.5, "too few months to chart", ha="center", va="center", transform=ax.transAxes)
            continue
        months = [p["month"] for p in points]
        ax.plot(months, [p["value"] for p in points], color=MUTED, marker="o", markersize=3, linewidth=1)
        ax.plot(months, [p["mean"] for p in points], color=INK, linewidth=1, label="mean")
        ax.plot(months, [p["upper_limit"] for p in points], color=INK, linestyle="--", linewidth=0.8,
                label="process limits")
        ax.plot(months, [p["lower_limit"] for p in points], color=INK, linestyle="--", linewidth=0.8)
        for direction, marker, colour, text in (("high", "^", HIGH, "special cause, high"),
                                                ("low", "v", LOW, "special cause, low")):
            flagged = [p for p in points if p["special_cause_direction"] == direction]
            if flagged:
                ax.scatter([p["month"] for p in flagged], [p["value"] for p in flagged], marker=marker, s=40,
                           color=colour, zorder=3, label=text)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
        ax.tick_params(labelsize=8)
    plt.setp(axes[-1].get_xticklabels(), rotation=0)
    fig.text(0.05, 0.06, "Mean and limits (mean +- 2.66 x mean moving range) from the first 12 months; special "
                         "cause = outside the limits, 7 in a row on one side of the mean, or 7 rising/falling.",
             fontsize=8, color=MUTED)
    pdf.savefig(fig)


def estimates_page(pdf, pack: BoardPack) -> None:
    fig = _page(pack, "Effect by measure, and what it is worth")
    ax = fig.add_axes((0.3, 0.42, 0.62, 0.43))
    rows = list(reversed(pack.estimates))
    for i, e in enumerate(rows):
        if e.readable:
            ax.errorbar([e.pct], [i], xerr=[[e.pct - e.pct_low], [e.pct_high - e.pct]],  # type: ignore[operator]
                        fmt="s", color=INK, ecolor=MUTED, capsize=3, markersize=5)
        else:
            ax.text(0, i, "too few people to estimate", va="center", ha="center", fontsize=8, color=MUTED)
    ax.axvline(0, color=MUTED, linewidth=0.8)
    ax.set_yticks(range(len(rows)), [e.label for e in rows], fontsize=8)
    ax.set_xlabel("change over the 12 months after referral, % of the base (95% CI)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    lines = []
    for c in pack.costs:
        if c["population"] != "referred":
            continue
        lines.append(f"{c['design_label']}: NHS cost avoided per person referred "
                     f"{_gbp(c['cost_avoided_per_person_gbp'])} (95% CI {_gbp(c['cost_avoided_per_person_ci_low'])} "
                     f"to {_gbp(c['cost_avoided_per_person_ci_high'])}); per £1 of link-worker cost "
                     f"{_gbp(c['return_per_pound'], 2)} ({_gbp(c['return_per_pound_ci_low'], 2)} "
                     f"to {_gbp(c['return_per_pound_ci_high'], 2)}).")
    lines.append("Only the causal estimate measures what the service caused; the before/after figure is the kind "
                 "the published evaluations reported (no comparison group) and is shown for comparison.")
    _paragraphs(fig, lines or ["No cost figures are published for this region."], 0.34, 9, width=150)
    pdf.savefig(fig)


def notes_page(pdf, pack: BoardPack) -> None:
    fig = _page(pack, "Data quality and how to read this pack")
    y = _paragraphs(fig, data_quality_note(pack.data_quality), 0.84, 11)
    _paragraphs(fig, ["", "How to read it:",
                      "- The primary estimate compares people referred with people of the same sex, age band, "
                      "deprivation and area not yet referred, over the same months (methods §4b). Before/after "
                      "changes are larger because use peaks just before referral and falls back anyway.",
                      "- Intervals are 95% confidence intervals clustered by practice; an estimate whose group is "
                      "too small or whose interval is too wide is shown as 'too few people to estimate'.",
                      "- Figures are read from the published tables as this region's login: other regions' rows "
                      "are not visible to it."], y, 10)
    pdf.savefig(fig)


def write(pack: BoardPack, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages

    out.parent.mkdir(parents=True, exist_ok=True)
    with PdfPages(out, metadata={"Title": f"Social prescribing board pack: {pack.region_name}, {pack.quarter.label}",
                                 "Creator": "spw report"}) as pdf:
        for page in (answer_page, run_chart_page, estimates_page, notes_page):
            page(pdf, pack)
    import matplotlib.pyplot as plt

    plt.close("all")
    return out
