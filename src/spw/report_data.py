"""What a steering group's board pack says, read from the published tables only, as the region's BI login.

Reading as `spw_bi_region_<code>` means Postgres row-level security decides what the pack can show:
the region's own rows and England's, never another region's, and only disclosure-controlled figures
(methods §9). Every query here names `published.*`; nothing reads marts or raw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from spw import bi_logins, db
from spw.errors import SpwError

SPC_MEASURES = {
    "referrals": "Referrals received a month",
    "referrals_per_1000_annualised": "Referrals per 1,000 registered patients (a year)",
    "caseload_per_wte_annualised": "Referrals per link-worker WTE (a year)",
}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter, `2024-Q2` = April to June 2024 (financial year 2024/25, quarter 1)."""

    start: date
    end: date  # exclusive

    @classmethod
    def parse(cls, text: str) -> Quarter:
        m = re.fullmatch(r"(\d{4})-Q([1-4])", text.strip())
        if not m:
            raise SpwError(f"quarter must look like 2024-Q2, not {text!r}")
        year, q = int(m.group(1)), int(m.group(2))
        start = date(year, 3 * q - 2, 1)
        end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
        return cls(start, end)

    @property
    def code(self) -> str:
        return f"{self.start.year}-Q{(self.start.month + 2) // 3}"

    @property
    def label(self) -> str:
        last = MONTHS[self.end.month - 2] if self.end.month > 1 else "December"
        fy_start = self.start.year if self.start.month >= 4 else self.start.year - 1
        fy_q = (self.start.month - 4) % 12 // 3 + 1
        return (f"{MONTHS[self.start.month - 1]} to {last} {self.start.year} "
                f"(financial year {fy_start}/{(fy_start + 1) % 100:02d}, quarter {fy_q})")


@dataclass
class Estimate:
    """The primary 12-month estimate of one measure as published (published.mart_staggered_did_by_area)."""

    measure: str
    label: str  # from the measure-label seed, as every dashboard names it
    n_treated: int | None
    att: float | None
    low: float | None
    high: float | None
    pct: float | None
    pct_low: float | None
    pct_high: float | None
    # the warehouse's judgement (published.mart_headline_effects) for the headline measures; None for
    # the others, which have no sentence
    estimable: bool | None = None

    @property
    def readable(self) -> bool:
        """Drawn as a number only with its published interval, and never where the warehouse's headline
        sentence says "too few people to estimate"."""
        if None in (self.pct, self.pct_low, self.pct_high):
            return False
        return self.estimable is not False


# The primary estimate of every measure for the region, with the warehouse's judgement of the headline
# measures: the sentences and the "too few people to estimate" rule live in the model only.
ESTIMATES_SQL = """
select e.measure, coalesce(e.measure_label, e.measure) as label, e.n_treated, e.att, e.att_ci_low as low,
       e.att_ci_high as high, e.att_pct as pct, e.att_pct_ci_low as pct_low, e.att_pct_ci_high as pct_high,
       h.is_estimable as estimable
from published.mart_staggered_did_by_area as e
left join published.mart_headline_effects as h
  on h.geography_level = e.geography_level and h.geography_code = e.geography_code
 and h.cohort_fy = e.cohort_fy and h.population = e.population and h.measure = e.measure
where e.geography_level = 'region' and e.geography_code = %s and e.cohort_fy = 'all'
  and e.population = 'referred' and e.estimate = 'cumulative_12m'
order by e.measure_order, e.measure
"""
HEADLINE_SQL = """
select sentence
from published.mart_headline_effects
where geography_level = 'region' and geography_code = %s and cohort_fy = 'all' and population = 'referred'
order by measure_order
"""


@dataclass
class BoardPack:
    region_code: str
    region_name: str
    quarter: Quarter
    estimates: list[Estimate]  # the region's primary estimates, every measure
    spc: dict[str, list[dict]]  # measure -> points up to the quarter's end
    quarter_figures: dict[str, float | None]
    costs: list[dict]
    data_quality: list[dict]
    scale: float | None
    # the warehouse's sentences (published.mart_headline_effects), so the pack and the dashboards say
    # the same words; empty when the warehouse has none for the region
    sentences: list[str] = field(default_factory=list)


def latest_quarter(region_code: str) -> Quarter:
    """The last calendar quarter whose three months are all in the region's published monthly series."""
    with db.connect("warehouse", bi_logins.region_login(region_code)) as conn:
        last = conn.execute("select max(month) from published.mart_rollout_monthly_series "
                            "where geography_level = 'region' and geography_code = %s", (region_code,)).fetchone()[0]
    if last is None:
        raise SpwError(f"no published monthly figures for region {region_code}")
    q = (last.month - 1) // 3 + 1 if last.month % 3 == 0 else (last.month - 1) // 3
    year = last.year if q else last.year - 1
    return Quarter.parse(f"{year}-Q{q or 4}")


def _rows(conn, query: str, params: tuple) -> list[dict]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def load(region_code: str, quarter: Quarter) -> BoardPack:
    """Everything the pack shows, read as the region's BI login (row-level security applies)."""
    login = bi_logins.region_login(region_code)
    with db.connect("warehouse", login) as conn:
        names = _rows(conn, "select geography_name from published.mart_rollout_progress "
                            "where geography_level = 'region' and geography_code = %s limit 1", (region_code,))
        estimates = [Estimate(**r) for r in _rows(conn, ESTIMATES_SQL, (region_code,))]
        points = _rows(conn, """
            select measure, month, value, mean, lower_limit, upper_limit, is_special_cause,
                   special_cause_direction, variation
            from published.mart_rollout_spc
            where geography_level = 'region' and geography_code = %s and month < %s
            order by measure, month""", (region_code, quarter.end))
        series = _rows(conn, """
            select measure, sum(value) as total, avg(value) as mean, count(value) as months
            from published.mart_rollout_monthly_series
            where geography_level = 'region' and geography_code = %s and month >= %s and month < %s
            group by measure""", (region_code, quarter.start, quarter.end))
        costs = _rows(conn, """
            select design, design_label, population, n_people, cost_avoided_per_person_gbp,
                   cost_avoided_per_person_ci_low, cost_avoided_per_person_ci_high, people_referred,
                   programme_cost_gbp, return_per_pound, return_per_pound_ci_low, return_per_pound_ci_high
            from published.mart_cost_consequences
            where geography_level = 'region' and geography_code = %s and cohort_fy = 'all'
            order by design desc, population desc""", (region_code,))
        quality = _rows(conn, """
            select source, sum(files_loaded) as files_loaded, sum(files_rejected) as files_rejected,
                   sum(rows_loaded) as rows_loaded, sum(rows_rejected) as rows_rejected,
                   sum(linkable_rows) as linkable_rows, sum(unlinked_rows) as unlinked_rows
            from published.mart_data_quality
            where delivery_month >= %s and delivery_month < %s
            group by source order by source""", (quarter.start, quarter.end))
        scale = _rows(conn, "select people_per_registered_patient from published.mart_population_scale "
                            "where geography_level = 'england'", ())
        sentences = [r["sentence"] for r in _rows(conn, HEADLINE_SQL, (region_code,))]
    if not names:
        raise SpwError(f"no published rollout figures for region {region_code}: has the warehouse been built?")
    spc: dict[str, list[dict]] = {m: [] for m in SPC_MEASURES}
    for p in points:
        spc.setdefault(p["measure"], []).append(p)
    # a quarter with a suppressed month has no published total (a sum of the rest would understate it)
    figures = {r["measure"]: (r["total"] if r["measure"] == "referrals" else r["mean"]) if r["months"] == 3 else None
               for r in series}
    return BoardPack(region_code=region_code, region_name=names[0]["geography_name"], quarter=quarter,
                     estimates=estimates, spc=spc, quarter_figures=figures, costs=costs, data_quality=quality,
                     scale=float(scale[0]["people_per_registered_patient"]) if scale and scale[0][
                         "people_per_registered_patient"] else None, sentences=sentences)


def data_quality_note(rows: list[dict]) -> list[str]:
    """The quarter's deliveries in a few sentences (published, rounded counts)."""
    if not rows:
        return ["No deliveries were recorded for this quarter."]
    loaded = sum(r["rows_loaded"] or 0 for r in rows)
    rejected = sum(r["rows_rejected"] or 0 for r in rows)
    files_rejected = sum(r["files_rejected"] or 0 for r in rows)
    linkable = sum(r["linkable_rows"] or 0 for r in rows)
    unlinked = sum(r["unlinked_rows"] or 0 for r in rows)
    lines = [f"Deliveries for the quarter (every area: data quality is published for the whole warehouse): "
             f"{loaded:,} rows loaded and {rejected:,} rows rejected by the data "
             f"contract's checks ({100 * rejected / max(loaded + rejected, 1):.1f}%); "
             f"{files_rejected:,} files rejected whole."]
    if linkable:
        lines.append(f"{100 * (linkable - unlinked) / linkable:.1f}% of person-level records link to a "
                     "registered patient.")
    worst = max(rows, key=lambda r: (r["rows_rejected"] or 0))
    if worst["rows_rejected"]:
        lines.append(f"Most rejected rows: {worst['source']} ({worst['rows_rejected']:,}).")
    lines.append("Counts are rounded to the nearest 5 and counts of 1 to 7 are suppressed (methods §9), so "
                 "totals may not add up exactly.")
    return lines
