"""What the dashboards show: datasets (published tables only), charts, dashboards and native filters.

`build_bundle.py` turns this into the Superset YAML bundle. Suppressed cells (methods section 9) are
NULL in the published tables; tables show them through `*_shown` calculated columns that print
"suppressed", and bar/line charts leave a gap, so a suppressed value never reads as zero.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

DATABASE_NAME = "Warehouse (published)"
COLOR_SCHEME = "nhsAccessible"  # defined in superset_config.py, WCAG 2.2 AA contrast on white
SUPPRESSED = "suppressed"


def shown(col: str, fmt: str = "FM999,999,990") -> tuple[str, str]:
    """Calculated column printing a number, or 'suppressed' when the published value is NULL."""
    return (f"coalesce(to_char({col}, '{fmt}'), '{SUPPRESSED}')", "TEXT")


def shown_ci(est: str, low: str, high: str, unit: str = "") -> tuple[str, str]:
    """'-8.1% (-12.0 to -4.2)': estimate with its 95% confidence interval, or 'suppressed'."""
    f = "FM999,990.0"
    expr = (f"coalesce(to_char({est}, '{f}') || '{unit} (' || coalesce(to_char({low}, '{f}'), '?') || ' to ' "
            f"|| coalesce(to_char({high}, '{f}'), '?') || ')', '{SUPPRESSED}')")
    return (expr, "TEXT")


def single_area(expr: str, levels: tuple[str, ...] = ("england", "region", "icb")) -> str:
    """Aggregate of `expr` for one area: the finest of `levels` at which the rows hold exactly one area.

    Estimates cannot be summed or averaged over areas. A regional login sees England and its region,
    so its region is shown; NHS England sees every region, so England is shown until a region (or
    an ICB) is chosen in the filters. The coarsest level is the fallback (England has one area).
    """
    *finer, coarsest = reversed(levels)
    whens = " ".join(
        f"when count(distinct geography_code) filter (where geography_level = '{lv}') = 1 "
        f"then max({expr}) filter (where geography_level = '{lv}')" for lv in finer)
    return f"case {whens} else max({expr}) filter (where geography_level = '{coarsest}') end"


def one_area_series(expr: str, levels: tuple[str, ...] = ("england", "region", "icb")) -> str:
    """Per month, `expr` of the one area a whole time-series query is about (see single_area).

    The level is chosen over every row of the query (window functions over the monthly groups), not
    month by month: a month the area has no point for (suppressed, or before its series starts) is
    a gap, never another area's value.
    """
    *finer, coarsest = reversed(levels)

    def one(lv: str) -> str:
        code = f"geography_code) filter (where geography_level = '{lv}')"
        return f"min(min({code}) over () = max(max({code}) over ()"

    whens = " ".join(f"when {one(lv)} then max({expr}) filter (where geography_level = '{lv}')" for lv in finer)
    return f"case {whens} else max({expr}) filter (where geography_level = '{coarsest}') end"


def gbp(expr: str, fmt: str) -> str:
    """'£1.69', '-£196': money with its sign before the pound sign."""
    return f"case when {expr} < 0 then '-£' else '£' end || to_char(abs({expr}), '{fmt}')"


def shown_gbp_ci(est: str, low: str, high: str, fmt: str = "FM999,990") -> tuple[str, str]:
    """'£196 (95% CI £120 to £270)', '(no interval)' under 20 practices, or 'suppressed'."""
    expr = (f"coalesce({gbp(est, fmt)} || coalesce(' (95% CI ' || {gbp(low, fmt)} || ' to ' || {gbp(high, fmt)} "
            f"|| ')', ' (no interval)'), '{SUPPRESSED}')")
    return (expr, "TEXT")


@dataclass(frozen=True)
class Metric:
    name: str
    sql: str
    label: str
    d3format: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Dataset:
    table: str
    description: str
    metrics: tuple[Metric, ...] = ()
    calculated: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    dataset: str
    viz: str  # table | big_number_total | echarts_timeseries_bar | echarts_timeseries_line | box_plot |
    #          mixed_timeseries (run charts: lines from `metrics`, markers only from `metrics_b`)
    description: str
    columns: tuple[str, ...] = ()  # table: columns shown, in order
    metrics: tuple[str, ...] = ()  # saved metric names of the dataset
    groupby: tuple[str, ...] = ()  # bar/line: one series per value
    x: str | None = None  # bar/line: x axis column
    where: tuple[str, ...] = ()  # fixed SQL filters (design, measure, ...)
    levels: tuple[str, ...] = ()  # geography levels shown (a fixed filter); () = all, or not by level
    order_by: tuple[tuple[str, bool], ...] = ()
    time_grain: str | None = None
    number_format: str = "SMART_NUMBER"
    subtitle: str | None = None
    x_title: str = ""
    y_title: str = ""
    row_limit: int = 1000
    height: int = 50
    columns_across: tuple[str, ...] = ()  # box_plot: the rows each box summarises ("distribute across")
    metrics_b: tuple[str, ...] = ()  # mixed_timeseries: the second query's metrics, drawn as markers only


@dataclass(frozen=True)
class Markdown:
    key: str
    text: str
    width: int = 12
    height: int = 20


@dataclass(frozen=True)
class Filter:
    name: str
    column: str
    dataset: str  # where the filter's values come from
    description: str = ""
    multi: bool = True
    parents: tuple[str, ...] = ()  # cascading: parent filter columns
    default: tuple[str, ...] = ()
    level: str | None = None  # geography level of the filter's codes (charts above it are out of scope)


Row = tuple[tuple[str, int] | Markdown, ...]


@dataclass(frozen=True)
class Tab:
    """A tab of a dashboard. Superset asks for a chart's data only when its tab is shown, so an open
    queries the first tab's charts alone; the others are queried when a reader opens their tab."""
    key: str
    title: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Dashboard:
    key: str
    slug: str
    title: str
    description: str
    rows: tuple[Row, ...] = ()  # a dashboard without tabs
    filters: tuple[Filter, ...] = ()
    tabs: tuple[Tab, ...] = ()  # or its tabs, in order (then `rows` is empty)

    @property
    def all_rows(self) -> tuple[Row, ...]:
        return tuple(row for tab in self.tabs for row in tab.rows) if self.tabs else self.rows


# ---------------------------------------------------------------- labels in NHS terms

LABELS = {
    "region_code": "Region code",
    "icb_code": "ICB code",
    "sub_icb_code": "Sub-ICB code",
    "pcn_code": "PCN code",
    "pcn_name": "PCN",
    "month": "Month",
    "financial_year": "Financial year",
    "cohort_fy": "Cohort financial year",
    "cohort_fy_label": "Cohort financial year",
    "registered_population": "Registered population",
    "arrs_entitlement_wte": "ARRS entitlement (WTE)",
    "link_worker_wte": "Link workers in post (WTE)",
    "referrals": "Referrals",
    "referrals_per_1000_annualised": "Referrals per 1,000 registered (annualised)",
    "caseload_per_wte_annualised": "Caseload per WTE (annualised)",
    "median_contacts": "Median contacts per person",
    "declined_pct": "Declined (%)",
    "median_days_to_first_contact": "Median days to first contact",
    "design": "Evaluation design",
    "geography_level": "Geography level (code)",
    "geography_level_label": "Level",
    "geography_code": "Area code",
    "geography_name": "Area",
    "population": "Population (code)",
    "population_label": "Population (referred/engaged)",
    "subgroup": "Subgroup (code)",
    "subgroup_label": "Subgroup",
    "window_months": "Window (months)",
    "measure": "Measure",
    "n_patients": "Patients",
    "is_suppressed": "Suppressed",
    "n_patients_shown": "Patients",
    "pre_mean_shown": "Mean before",
    "post_mean_shown": "Mean after",
    "pct_change_shown": "Change before/after, % (95% CI)",
    "did_pct_shown": "Difference-in-differences, % (95% CI)",
    "did_mean_shown": "Difference-in-differences per person (95% CI)",
    "n_matched_shown": "Matched",
    "cost_gbp_shown": "Cost before (£)",
    "cost_change_gbp_shown": "Cost change (£)",
    "region_name": "Region",
    "icb_name": "ICB",
    "sub_icb_name": "Sub-ICB location",
    "registered_population_shown": "Registered population",
    "referrals_shown": "Referrals",
    "referrals_per_1000_shown": "Referrals per 1,000 (annualised)",
    "caseload_per_wte_shown": "Caseload per WTE (annualised)",
    "declined_pct_shown": "Declined (%)",
    "median_days_shown": "Median days to first contact",
    "wte_shown": "Link workers in post (WTE)",
    "entitlement_shown": "ARRS entitlement (WTE)",
    "as_at_month": "As at",
    "cumulative_referrals_shown": "Cumulative referrals",
    "pro_rata_ambition_shown": "Pro-rata share of 900,000",
    "pct_of_ambition_shown": "Progress against ambition (%)",
    "wte_pct_shown": "WTE as % of entitlement",
    "referred_shown": "Referred",
    "excluded_incomplete_follow_up_shown": "Excluded: incomplete follow-up",
    "excluded_not_registered_throughout_shown": "Excluded: not registered throughout",
    "excluded_died_shown": "Excluded: died",
    "eligible_shown": "Eligible",
    "engaged_shown": "Engaged",
    "instrument": "Instrument",
    "item": "Item (code)",
    "item_label": "Item",
    "n_paired_shown": "People with baseline and follow-up",
    "baseline_mean_shown": "Baseline mean",
    "followup_mean_shown": "Follow-up mean",
    "mean_change_shown": "Mean change (95% CI)",
    "improved_pct_shown": "Improved (%)",
    "dimension": "Dimension (code)",
    "dimension_label": "Dimension",
    "value": "Group (code)",
    "rate_shown": "Referred per 1,000",
    "people_referred_shown": "People referred",
    "gp_pct_change_shown": "GP appointments change (%)",
    "swemwbs_change_shown": "SWEMWBS change",
    "engaged_pct_shown": "Engaged (%)",
    "category": "Category",
    "source": "Source (code)",
    "source_label": "Source",
    "delivery_month": "Delivery month",
    "files_received": "Files received",
    "files_loaded": "Files loaded",
    "files_rejected": "Files rejected",
    "rows_read": "Rows read",
    "rows_loaded": "Rows loaded",
    "rows_rejected": "Rows rejected",
    "unknown_practice_code_rows": "Unknown practice codes",
    "unknown_pcn_code_rows": "Unknown PCN codes",
    "unlinked_rows": "Not linked",
    "linkage_rate_pct": "Linkage rate (%)",
    "rows_read_shown": "Rows read",
    "rows_loaded_shown": "Rows loaded",
    "rows_rejected_shown": "Rows rejected",
    "unknown_practice_code_rows_shown": "Unknown practice codes",
    "unknown_pcn_code_rows_shown": "Unknown PCN codes",
    "unlinked_rows_shown": "Not linked",
    "linkage_rate_pct_shown": "Linkage rate (%)",
    "measure_label": "Measure",
    "measure_order": "Measure order",
    "sentence": "What the primary estimate says",
    "is_estimable": "Estimable",
    "not_estimable_reason": "Why no number",
    "design_label": "Design",
    "estimate_pct_shown": "Effect, % of use before referral (95% CI)",
    "n_people_shown": "People",
    "value_label": "Group",
    "event_month": "Months since referral",
    "cost_per_person_shown": "NHS cost avoided per person referred, 12 months (95% CI)",
    "return_per_pound_shown": "NHS cost avoided per £1 of link-worker cost (95% CI)",
    "programme_cost_shown": "Link-worker cost",
}
DESCRIPTIONS = {
    "region_code": "NHS England region code (Y56 to Y63); ENG marks England-level rows.",
    "is_suppressed": "True where counts of 1 to 7 were suppressed (methods section 9).",
    "icb_code": "ICB the row's area lies in (the area itself at ICB level); empty at England and region level.",
    "sub_icb_code": "Sub-ICB location the row's area lies in (itself at sub-ICB level); empty above it.",
    "pcn_code": "The row's PCN; empty for areas above PCN level.",
}

# ---------------------------------------------------------------- codes in words

# What people read instead of the codes the published tables keep for analysts (measures, referral
# vocabulary and areas have theirs in the warehouse: seeds ref_measure_labels, ref_referral_vocabulary
# and the ODS names). The words are the dbt seed ref_value_labels (code_column, code, label), the one
# place they are kept, which an ICB may replace. A calculated column `<code column>_label` of each
# dataset that has the code column prints the word; a code without one prints as it is, so a new code
# shows rather than vanishes.
VALUE_LABELS_SEED = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "ref_value_labels.csv"


@cache
def value_labels() -> dict[str, dict[str, str]]:
    """The seed's words by code column, then code, in the seed's order."""
    out: dict[str, dict[str, str]] = {}
    with VALUE_LABELS_SEED.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["code_column"], {})[row["code"]] = row["label"]
    return out


def _sql_text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def in_words(col: str) -> tuple[str, str]:
    """Calculated column: `col`'s code in words (seed ref_value_labels), or the code itself when it has none."""
    whens = " ".join(f"when {_sql_text(code)} then {_sql_text(word)}" for code, word in value_labels()[col].items())
    return (f"case {col} {whens} else {col} end", "TEXT")


# ---------------------------------------------------------------- geography

# Tables published by geography level carry, beside geography_level/geography_code/region_code, the
# codes of the ICB, sub-ICB location and PCN each row's area lies in (its own included, NULL above its
# level), so the same ICB/sub-ICB/PCN filters narrow them and the PCN-by-month charts.
LEVELS = ("england", "region", "icb", "sub_icb", "pcn")  # coarsest to finest


# ---------------------------------------------------------------- datasets

PCN_MONTH = "mart_rollout_pcn_month"
DEMAND = "mart_demand_reduction_by_area"
PROGRESS = "mart_rollout_progress"
ATTRITION = "mart_cohort_attrition"
WELLBEING = "mart_wellbeing_outcomes"
PATHWAY = "mart_referral_pathway"
EQUITY = "mart_equity"
QUALITY = "mart_data_quality"
QUALITY_COUNTS = ("rows_read", "rows_loaded", "rows_rejected", "unknown_practice_code_rows", "unknown_pcn_code_rows",
                  "unlinked_rows")
HEADLINE = "mart_headline_effects"
EVENTS = "mart_event_study_bounds"
DESIGNS = "mart_effect_designs"
SPC = "mart_rollout_spc"
COSTS = "mart_cost_consequences"
# the run-chart measures of mart_rollout_spc: chart title, series name (short: Superset pages a legend
# that needs more than two lines), y axis, number format
SPC_MEASURES = (("referrals", "Referrals", "Referrals", "Referrals a month", ",d"),
                ("referrals_per_1000_annualised", "Referrals per 1,000 registered (annualised)", "Per 1,000",
                 "per 1,000 a year", ",.1f"),
                ("caseload_per_wte_annualised", "Caseload per link-worker WTE (annualised)", "Per WTE",
                 "per WTE a year", ",.0f"))


DATASETS = (
    Dataset(
        PCN_MONTH,
        "Rollout by PCN and month: workforce against ARRS entitlement, referrals and caseload.",
        metrics=(
            Metric("wte_in_post", "sum(link_worker_wte)", "Link workers in post (WTE)", ",.1f"),
            Metric("wte_entitlement", "sum(arrs_entitlement_wte)", "ARRS entitlement (WTE)", ",.1f"),
            Metric("mean_wte_in_post", "avg(link_worker_wte)", "Link workers in post (WTE, monthly mean)", ",.1f"),
            Metric("mean_wte_entitlement", "avg(arrs_entitlement_wte)", "ARRS entitlement (WTE, monthly mean)",
                   ",.1f"),
            Metric("wte_pct_of_entitlement", "100.0 * sum(link_worker_wte) / nullif(sum(arrs_entitlement_wte), 0)",
                   "WTE in post as % of entitlement", ",.1f"),
            Metric("referrals", "sum(referrals)", "Referrals", ",d"),
            Metric("referrals_per_1000",
                   "12000.0 * sum(referrals) / nullif(sum(case when referrals is not null "
                   "then registered_population end), 0)",
                   "Referrals per 1,000 registered (annualised)", ",.1f",
                   "Published PCN referrals per 1,000 registered, annualised; suppressed PCN-months are left "
                   "out of numerator and denominator."),
            Metric("caseload_per_wte",
                   "12.0 * sum(referrals) / nullif(sum(case when referrals is not null then link_worker_wte end), 0)",
                   "Caseload per WTE (annualised)", ",.0f",
                   "Referrals per WTE in post, annualised; suppressed PCN-months left out."),
        ),
        calculated={
            "referrals_shown": shown("referrals"),
            "registered_population_shown": shown("registered_population"),
            "referrals_per_1000_shown": shown("referrals_per_1000_annualised", "FM999,990.0"),
            "caseload_per_wte_shown": shown("caseload_per_wte_annualised", "FM999,990"),
            "declined_pct_shown": shown("declined_pct", "FM990.0"),
            "median_days_shown": shown("median_days_to_first_contact", "FM9,990"),
            "wte_shown": ("to_char(link_worker_wte, 'FM999,990.0')", "TEXT"),
            "entitlement_shown": ("to_char(arrs_entitlement_wte, 'FM999,990.0')", "TEXT"),
        },
    ),
    Dataset(
        DEMAND,
        "Demand reduction: before/after and matched difference-in-differences (methods sections 3-5).",
        metrics=(
            Metric("did_pct", "avg(did_pct)", "Difference-in-differences (%)", ",.1f"),
            Metric("pct_change", "avg(pct_change)", "Change before/after (%)", ",.1f"),
            Metric("patients", "sum(n_patients)", "Patients", ",d"),
        ),
        calculated={
            "financial_year": in_words("cohort_fy"),
            "n_patients_shown": shown("n_patients"),
            "n_matched_shown": shown("n_matched"),
            "pre_mean_shown": shown("pre_mean", "FM999,990.00"),
            "post_mean_shown": shown("post_mean", "FM999,990.00"),
            "pct_change_shown": shown_ci("pct_change", "pct_change_ci_low", "pct_change_ci_high", "%"),
            "did_pct_shown": shown_ci("did_pct", "did_pct_ci_low", "did_pct_ci_high", "%"),
            "did_mean_shown": shown_ci("did_mean", "did_ci_low", "did_ci_high"),
            "cost_gbp_shown": shown("cost_gbp", "FM999,999,990.00"),
            "cost_change_gbp_shown": shown("cost_change_gbp", "FM999,999,990"),
        },
    ),
    Dataset(
        PROGRESS,
        "Progress against the pro-rata share of the 900,000 referral ambition; WTE against entitlement.",
        metrics=(
            Metric("cumulative_referrals", "sum(cumulative_referrals)", "Cumulative referrals", ",d"),
            Metric("pro_rata_ambition", "sum(pro_rata_ambition)", "Pro-rata share of 900,000 ambition", ",.0f"),
            Metric("pct_of_ambition", "100.0 * sum(cumulative_referrals) / nullif(sum(pro_rata_ambition), 0)",
                   "Progress against ambition (%)", ",.1f"),
            Metric("wte_in_post", "sum(link_worker_wte)", "Link workers in post (WTE)", ",.1f"),
            Metric("wte_entitlement", "sum(arrs_entitlement_wte)", "ARRS entitlement (WTE)", ",.1f"),
        ),
        calculated={
            "cumulative_referrals_shown": shown("cumulative_referrals"),
            "pro_rata_ambition_shown": shown("pro_rata_ambition", "FM999,999,990"),
            "pct_of_ambition_shown": shown("pct_of_ambition", "FM990.0"),
            "wte_pct_shown": shown("wte_pct_of_entitlement", "FM990.0"),
            "wte_shown": ("to_char(link_worker_wte, 'FM999,990.0')", "TEXT"),
            "entitlement_shown": ("to_char(arrs_entitlement_wte, 'FM999,990.0')", "TEXT"),
        },
    ),
    Dataset(
        ATTRITION,
        "Cohort attrition: index patients referred, excluded by each rule, eligible and engaged.",
        metrics=(Metric("eligible", "sum(eligible)", "Eligible", ",d"),),
        calculated={
            "financial_year": in_words("cohort_fy"),
            **{f"{c}_shown": shown(c) for c in ("referred", "excluded_incomplete_follow_up",
                                                "excluded_not_registered_throughout", "excluded_died",
                                                "eligible", "engaged")},
        },
    ),
    Dataset(
        WELLBEING,
        "Wellbeing change between baseline and follow-up, by instrument and item.",
        metrics=(Metric("mean_change", "avg(mean_change)", "Mean change", ",.2f"),),
        calculated={
            "financial_year": in_words("cohort_fy"),
            "n_paired_shown": shown("n_paired"),
            "baseline_mean_shown": shown("baseline_mean", "FM990.00"),
            "followup_mean_shown": shown("followup_mean", "FM990.00"),
            "mean_change_shown": shown_ci("mean_change", "mean_change_ci_low", "mean_change_ci_high"),
            "improved_pct_shown": shown("improved_pct", "FM990.0"),
        },
    ),
    Dataset(
        PATHWAY,
        "Referral sources, reasons, social prescribing activities and outcomes, by month.",
        metrics=(Metric("referrals", "sum(referrals)", "Referrals", ",d"),),
    ),
    Dataset(
        EQUITY,
        "Equity of access and outcome by deprivation (IMD quintile), age band, sex and ethnic group.",
        metrics=(
            Metric("rate_per_1000", "1000.0 * sum(referrals) / nullif(sum(case when referrals "
                   "is not null then registered_population end), 0)", "People referred per 1,000 registered",
                   ",.1f", "Suppressed groups are left out of numerator and denominator."),
        ),
        calculated={
            "financial_year": in_words("cohort_fy"),
            "people_referred_shown": shown("referrals"),
            "rate_shown": shown("referrals_per_1000", "FM990.0"),
            "engaged_pct_shown": shown("engaged_pct", "FM990.0"),
            "gp_pct_change_shown": shown("gp_pct_change", "FM990.0"),
            "swemwbs_change_shown": shown("swemwbs_mean_change", "FM990.00"),
        },
    ),
    Dataset(
        QUALITY,
        "Data quality by source and delivery month: files, rows loaded and rejected by rule, unknown codes, "
        "linkage. England level; counts of rows rounded to 5, 1 to 7 suppressed (methods section 9).",
        # suppressed cells print "suppressed", not Superset's pale "N/A" (too little contrast, and it
        # reads as missing rather than withheld)
        calculated={**{f"{c}_shown": shown(c) for c in QUALITY_COUNTS},
                    "linkage_rate_pct_shown": shown("linkage_rate_pct", "FM990.0")},
        metrics=(
            Metric("rows_loaded", "sum(rows_loaded)", "Rows loaded", ",d"),
            Metric("rows_rejected", "sum(rows_rejected)", "Rows rejected", ",d"),
            Metric("linkage_rate", "100.0 * sum(linkable_rows - unlinked_rows) / nullif(sum(case when "
                   "unlinked_rows is not null then linkable_rows end), 0)", "Linkage rate (%)", ",.1f",
                   "Suppressed groups are left out of numerator and denominator."),
            Metric("unknown_codes", "coalesce(sum(unknown_practice_code_rows), 0) + "
                   "coalesce(sum(unknown_pcn_code_rows), 0)", "Rows with unknown practice or PCN codes", ",d",
                   "Suppressed counts (1 to 7) are left out."),
            *(Metric(f"rejected_{rule}", f"sum(rows_rejected_{rule})", label, ",d") for rule, label in (
                ("required", "Required field missing"), ("field_count", "Wrong number of fields"),
                ("date_format", "Date format"), ("date_range", "Date out of range"),
                ("first_of_month", "Not first of month"), ("int_format", "Integer format"),
                ("decimal_format", "Decimal format"), ("range", "Value out of range"),
                ("pattern", "Code pattern"), ("code_set", "Code not in code set"),
                ("nhs_number_format", "NHS number format"), ("nhs_number_check_digit", "NHS number check digit"),
                ("nhs_number_all_one_digit", "NHS number all one digit"),
                ("pseudo_nhs_number_format", "Pseudonymised NHS number format"), ("order", "Dates out of order"),
                ("code_set_for", "Code set (conditional)"), ("range_for", "Range (conditional)"),
                ("other_rule", "Other rule"))),
        ),
    ),
)

DATASETS = (
    *DATASETS,
    Dataset(
        HEADLINE,
        "The primary 12-month effect (staggered difference-in-differences) of each headline measure in one "
        "plain sentence per area, or 'too few people to estimate'.",
    ),
    Dataset(
        EVENTS,
        "Staggered difference-in-differences (methods section 4b) month by month, from 15 months before the "
        "referral month to 12 after: five rows per month (uniform band, 95% interval, estimate) for box plots.",
        metrics=(Metric("effect_per_person", single_area("bound_value"), "Effect per person in the month", ",.2f",
                        "A bound of one month's estimate for one area (the box plot summarises the five)."),),
    ),
    Dataset(
        DESIGNS,
        "The three estimates of each measure side by side, in % of use before referral with 95% intervals: "
        "before/after (no comparison group), matched comparison, staggered (primary).",
        metrics=(Metric("bound_pct", single_area("bound_pct"), "Effect, % of use before referral", ",.1f",
                        "The lower bound, estimate or upper bound of one design's estimate for one area."),),
        calculated={
            "estimate_pct_shown": shown_ci("estimate_pct", "ci_low_pct", "ci_high_pct", "%"),
            "n_people_shown": shown("n_people"),
        },
    ),
)


def spc_dataset(levels: tuple[str, ...]) -> tuple[Metric, ...]:
    """Run-chart metrics of one area (one_area_series over `levels`); one value metric per measure."""
    def series(expr: str) -> str:
        return one_area_series(expr, levels)

    return (
        *(Metric(f"spc_{m}", series("value"), label, fmt) for m, _, label, _, fmt in SPC_MEASURES),
        Metric("spc_mean", series("mean"), "Mean", ",.1f",
               "Mean of the first 12 months charted (the baseline)."),
        Metric("spc_upper", series("upper_limit"), "Upper process limit", ",.1f",
               "Mean + 2.66 x mean moving range of the baseline months."),
        Metric("spc_lower", series("lower_limit"), "Lower process limit", ",.1f",
               "Mean - 2.66 x mean moving range of the baseline months, 0 at least."),
        Metric("spc_special_high", series("case when special_cause_direction = 'high' then value end"),
               "Special cause: high", ",.1f",
               "A point above the upper limit, in a run of 7 above the mean, or in a rising trend of 7."),
        Metric("spc_special_low", series("case when special_cause_direction = 'low' then value end"),
               "Special cause: low", ",.1f",
               "A point below the lower limit, in a run of 7 below the mean, or in a falling trend of 7."),
    )


# One dataset per table: the metrics choose the area over the levels every dashboard's run chart
# shows (England, region, ICB); the charts narrow the rows to their own levels with `levels`.
DATASETS = (
    *DATASETS,
    Dataset(
        SPC,
        "Run charts of the rollout (NHS Making Data Count: XmR): each month's published value, the mean "
        "and process limits of the first 12 months, and special-cause points, per England, region and ICB.",
        metrics=spc_dataset(("england", "region", "icb")),
    ),
    Dataset(
        COSTS,
        "NHS cost avoided per person over the 12 months after referral and per £1 of link-worker cost: the "
        "causal (staggered difference-in-differences) estimate beside the uncontrolled before/after figure.",
        calculated={
            "cost_per_person_shown": shown_gbp_ci("cost_avoided_per_person_gbp", "cost_avoided_per_person_ci_low",
                                                  "cost_avoided_per_person_ci_high"),
            "return_per_pound_shown": shown_gbp_ci("return_per_pound", "return_per_pound_ci_low",
                                                   "return_per_pound_ci_high", "FM999,990.00"),
            "n_people_shown": shown("n_people"),
            "programme_cost_shown": (f"coalesce({gbp('programme_cost_gbp', 'FM999,999,999,990')}, 'not known')",
                                     "TEXT"),
        },
    ),
)

REJECT_RULES = tuple(m.name for ds in DATASETS if ds.table == QUALITY for m in ds.metrics
                     if m.name.startswith("rejected_"))

# ---------------------------------------------------------------- charts

STANDARD_REGION = ("design = 'standard'", "population = 'referred'",
                   "subgroup = 'all'", "cohort_fy = 'all'")

# Forced colours of categories (dashboard label_colors): event months by phase, designs by design. The
# month number and design name on the axis carry the meaning too; colours are NHS identity colours
# with at least 3:1 contrast on white (WCAG 2.2 SC 1.4.11).
PLACEBO_GREY, PEAK_PINK, EFFECT_BLUE = "#768692", "#AE2573", "#005EB8"
DESIGN_COLOURS = {"Before/after": PEAK_PINK, "Matched": "#425563", "Staggered": EFFECT_BLUE}


# Run charts: the series blue, the mean near-black, the limits grey; special causes add a colour to
# their large marker and their name ("Special cause: high/low"). Superset's mixed chart looks colours
# up by metric name, not by label.
RUN_CHART_COLOURS = {"spc_mean": "#231F20", "spc_upper": PLACEBO_GREY, "spc_lower": PLACEBO_GREY,
                     "spc_special_high": PEAK_PINK, "spc_special_low": "#006747"}


def label_colours() -> dict[str, str]:
    months = {str(e): PLACEBO_GREY if e <= -4 else PEAK_PINK if e < 0 else EFFECT_BLUE for e in range(-15, 13)}
    series = {f"spc_{m}": EFFECT_BLUE for m, *_ in SPC_MEASURES}
    return {**months, **DESIGN_COLOURS, **series, **RUN_CHART_COLOURS}


HEADLINE_MEASURES = (("gp_appointments", "GP appointments"), ("ae_attendances", "A&E attendances"),
                     ("emergency_admissions", "Emergency admissions"))
PRIMARY = ("population = 'referred'", "cohort_fy = 'all'")
IN_HEADLINE = "measure in (" + ", ".join(f"'{m}'" for m, _ in HEADLINE_MEASURES) + ")"


def interval_box(category: str, metric: str, measure: str, levels: tuple[str, ...]) -> dict:
    """Box-plot settings drawing one box per category from the five interval rows (seed ref_interval_rows)."""
    return {"groupby": (category,), "columns_across": ("bound",), "metrics": (metric,),
            "where": (*PRIMARY, f"measure = '{measure}'"), "levels": levels}


def effect_charts(suffix: str, levels: tuple[str, ...], area_levels: tuple[str, ...],
                  area_note: str) -> tuple[Chart, ...]:
    """Headline sentences, event studies, forest plot and its table for one dashboard.

    `area_levels`: the levels whose sentences are listed; `levels`: the levels the single-area
    metrics choose from (charts show one area: the one the filters narrow to), said in `area_note`.
    """
    return (
        Chart(f"headline_effects{suffix}", "What social prescribing changed: the primary estimate", HEADLINE,
              "table", "The 12-month effect of referral on each headline measure, from the staggered "
              "difference-in-differences (people referred compared with similar people, in the same "
              "practices' sub-ICB, age, sex and deprivation group, not yet referred). 'Too few people to "
              "estimate' replaces a number when the group is under 8 people, fewer than 20 practices "
              "contribute, or the 95% interval is wider than +/-25% of use before referral.",
              columns=("geography_name", "measure_label", "sentence"), where=PRIMARY, levels=area_levels,
              order_by=(("geography_level", True), ("geography_name", True), ("measure_order", True)),
              height=40),
        *(Chart(f"event_study_{m}{suffix}", f"{label}: effect month by month around referral", EVENTS,
                "box_plot", f"{label} per person in each month, people referred against similar people not yet "
                "referred, from 15 months before the referral month to 12 after. The box is the 95% interval, the "
                "line in it the estimate, the whiskers the uniform 95% band over all months (Superset's tooltip "
                "calls them quartiles, median and min/max). Months -15 to -4 (grey) are placebo months: nothing "
                "has happened yet, so near 0 means the comparison holds; months -3 to -1 (pink) show the rise in "
                "use that led to referral, which the 12-month effect steps over; 0 to 12 (blue) are the effect. "
                + area_note,
                **interval_box("event_month", "effect_per_person", m, levels), number_format=",.2f",
                x_title="Months since referral (0 = referral month)", y_title="per person per month", height=60)
          for m, label in HEADLINE_MEASURES),
        *(Chart(f"forest_plot_{m}{suffix}", f"{label}: before/after (uncontrolled), matched (commissioner "
                "comparison), staggered (primary)", DESIGNS,
                "box_plot", f"Change in {label} over the 12 months after referral, in % of use before it, by "
                "design: before/after (uncontrolled: no comparison group, so it counts the fall that happens "
                "anyway after the peak that led to referral), matched (the comparison commissioners recognise) "
                "and staggered (the primary estimate). The box is the 95% interval and the line in it the "
                "estimate (Superset's tooltip calls them quartiles and median). The table below gives the same "
                "figures. " + area_note,
                **interval_box("design_axis_label", "bound_pct", m, levels), number_format=",.0f",
                y_title="% of use before referral", height=55)
          for m, label in HEADLINE_MEASURES),
        Chart(f"effect_designs{suffix}", "Three designs side by side: the figures", DESIGNS, "table",
              "The estimates drawn in the forest plots, with the number of people behind each.",
              columns=("geography_name", "measure_label", "design_label", "n_people_shown", "estimate_pct_shown"),
              where=(*PRIMARY, IN_HEADLINE, "bound = 'estimate'"), levels=area_levels,
              order_by=(("geography_level", True), ("geography_name", True), ("measure_label", True),
                        ("design_order", True)), height=50),
    )


def run_charts(suffix: str, levels: tuple[str, ...], area_note: str) -> tuple[Chart, ...]:
    """Run charts (Making Data Count) of referrals, referral rate and caseload per WTE for one area."""
    return tuple(
        Chart(f"spc_{m}{suffix}", f"Run chart: {label.lower() if m == 'referrals' else label}", SPC,
              "mixed_timeseries", f"{label} each month (blue line), the mean of the first 12 months "
              "charted (black line) and the process limits (grey lines: mean +- 2.66 x mean moving range). Points "
              "marked with a large dot and named 'Special cause: high' or 'Special cause: low' in the legend and "
              "tooltip show special-cause variation: outside the limits, a run of 7 or more on one side of "
              "the mean, or 7 or more rising or falling; other points are common-cause variation. Published "
              "(rounded) figures; a suppressed month is a gap. " + area_note,
              x="month", metrics=(f"spc_{m}", "spc_mean", "spc_upper", "spc_lower"), x_title="Month",
              metrics_b=("spc_special_high", "spc_special_low"), time_grain="P1M", levels=levels,
              where=(f"measure = '{m}'",), y_title=y_title, number_format=fmt, height=50)
        for m, label, _, y_title, fmt in SPC_MEASURES)


def cost_chart(suffix: str, levels: tuple[str, ...]) -> Chart:
    """Cost consequences: the causal estimate beside the before/after 'return', each named for what it is."""
    return Chart(
        f"cost_consequences{suffix}", "What it is worth: NHS cost avoided per person and per £1", COSTS, "table",
        "NHS cost avoided over the 12 months after referral (GP appointments, A&E attendances and emergency "
        "admissions at the unit costs of the seed), per person referred and per £1 spent on link workers, with "
        "95% intervals. 'Causal estimate' rows compare people referred with similar people not yet referred "
        "(the primary estimate): what the service caused. 'Before/after' rows compare each person's use after "
        "referral with their own use before, with no comparison group, as the published evaluations that "
        "reported a return per £1 did: use falls anyway after the peak that led to referral, so these "
        "overstate what the service caused. No interval where fewer than 20 practices contribute.",
        columns=("geography_name", "design_label", "n_people_shown", "cost_per_person_shown",
                 "return_per_pound_shown", "programme_cost_shown"),
        where=("cohort_fy = 'all'", "population = 'referred'"), levels=levels,
        order_by=(("geography_level", True), ("geography_name", True), ("design", False)), height=40)


COST_NOTE = Markdown(
    "cost_note", "#### What it is worth\nThe **causal estimate** (staggered difference-in-differences) is what "
    "the service saved the NHS. The **before/after** figure is the kind of \"return per £1\" the published "
    "evaluations reported (Gloucestershire's £1.69 per £1 among them): with no comparison group it counts the "
    "fall in use that happens anyway after the peak that led to referral, so it is larger. Quote the causal "
    "estimate, with its interval.", width=4, height=40)
RUN_CHART_NOTE = Markdown(
    "run_chart_note", "#### Run charts (Making Data Count)\nEach chart shows a month's figure (blue line), the "
    "mean of the first 12 months charted (black line) and the upper and lower process limits (grey lines: the "
    "mean +- 2.66 times the mean moving range). Variation inside the limits is **common-cause**: the usual "
    "ups and downs, nothing to explain. **Special-cause** points are drawn as large dots and named *Special "
    "cause: high* or *Special cause: low* in the legend and in the tooltip: a month outside the limits, in a "
    "run of 7 or more on one side of the mean, or in 7 or more rising or falling. Something has changed "
    "there. Figures are published (rounded) counts; a suppressed month is a gap. **Which area**: your region "
    "(the ICB chosen, on the ICB dashboard; England for NHS England until a region is chosen). A run chart "
    "needs 12 published months for its mean and limits: where an area's monthly counts are mostly "
    "suppressed (fewer than 8 referrals a month), the next larger area's chart is shown, England's at the "
    "top.", width=6, height=50)

REGION_EFFECTS = effect_charts("", ("england", "region"), ("england", "region"),
                               "One area: your region, or England until a region is chosen in the filters.")
ICB_EFFECTS = effect_charts("_icb", ("england", "region", "icb"), ("icb",),
                            "One area: the ICB chosen in the filters, else your region (England for national users).")

# A series needs 12 published months for its mean and limits; an area whose months are mostly
# suppressed has none, and the chart falls back to the next larger area that has one (said in the text).
FALLBACK_NOTE = (" An area with fewer than 12 published months (most months suppressed: too few referrals) has "
                 "no run chart; England's is shown instead.")
REGION_RUN_CHARTS = run_charts("", ("england", "region"),
                               "One area: your region, or England until a region is chosen in the filters."
                               + FALLBACK_NOTE)
ICB_RUN_CHARTS = run_charts("_icb", ("england", "region", "icb"),
                            "One area: the ICB chosen in the filters, else your region (England for national "
                            "users)." + FALLBACK_NOTE.replace("England's is shown", "the region's (or England's) "
                                                              "is shown"))
NHSE_RUN_CHARTS = run_charts("_nhse", ("england", "region"),
                             "England, or the region chosen in the filters." + FALLBACK_NOTE)
REGION_COSTS = cost_chart("", ("england", "region"))
ICB_COSTS = cost_chart("_icb", ("icb",))

CHARTS = (
    *REGION_EFFECTS,
    *ICB_EFFECTS,
    *REGION_RUN_CHARTS,
    *ICB_RUN_CHARTS,
    *NHSE_RUN_CHARTS,
    REGION_COSTS,
    ICB_COSTS,
    # rollout
    Chart("wte_vs_entitlement_by_pcn", "Link workers in post against ARRS entitlement, by PCN", PCN_MONTH,
          "echarts_timeseries_bar", "Monthly mean whole-time equivalent (WTE) link workers in post, all "
          "funding, and the ARRS entitlement of each primary care network, over the months selected.",
          x="pcn_name", metrics=("mean_wte_in_post", "mean_wte_entitlement"), x_title="PCN", y_title="WTE"),
    Chart("progress_vs_ambition", "Cumulative referrals against the pro-rata 900,000 ambition",
          PROGRESS, "table", "Cumulative referrals in each financial year compared with the area's share of "
          "the national ambition of 900,000 people referred by 2023/24, pro rata to registered population.",
          columns=("geography_level_label", "geography_name", "financial_year", "as_at_month",
                   "cumulative_referrals_shown", "pro_rata_ambition_shown", "pct_of_ambition_shown",
                   "wte_shown", "entitlement_shown", "wte_pct_shown"),
          levels=("england", "region", "icb"),
          order_by=(("financial_year", False), ("geography_level", True), ("geography_name", True))),
    Chart("progress_pct", "Progress against the 2023/24 ambition", PROGRESS, "big_number_total",
          "Cumulative referrals in the ambition year as a percentage of this area's pro-rata share of 900,000.",
          metrics=("pct_of_ambition",), where=("is_ambition_year",), levels=("region",),
          number_format=",.1f", subtitle="% of pro-rata share, 2023/24"),
    # pathway
    *(Chart(f"pathway_{cat}", title, PATHWAY, "echarts_timeseries_bar", desc, x="value_label",
            metrics=("referrals",), where=(f"category = '{cat}'",), levels=("region",), x_title=title,
            y_title="Referrals")
      for cat, title, desc in (
          ("referral_source", "Referral sources", "Who referred people to social prescribing."),
          ("referral_reason", "Referral reasons", "Recorded reasons for referral (a referral may have several)."),
          ("activity", "Activities", "Activities people were connected to (a referral may have several)."),
          ("outcome", "Referral outcomes", "How referrals ended."))),
    # demand reduction
    Chart("demand_before_after_did", "Demand reduction: before/after and matched difference-in-differences",
          DEMAND, "table", "For each measure and window: mean use per person before and after referral, the "
          "before/after change, and the difference-in-differences against matched controls, each with its "
          "95% confidence interval. All referred patients, all cohort years.",
          columns=("geography_name", "measure_label", "window_months", "n_patients_shown", "pre_mean_shown",
                   "post_mean_shown", "pct_change_shown", "n_matched_shown", "did_pct_shown"),
          where=STANDARD_REGION, levels=("region",), order_by=(("measure_label", True), ("window_months", True)),
          height=60),
    # wellbeing and equity
    Chart("wellbeing_change", "Wellbeing change from baseline to follow-up", WELLBEING, "table",
          "Paired baseline and follow-up scores by instrument; change with 95% confidence interval.",
          columns=("geography_name", "cohort_fy_label", "instrument", "item_label", "n_paired_shown",
                   "baseline_mean_shown", "followup_mean_shown", "mean_change_shown", "improved_pct_shown"),
          levels=("england", "region"),
          order_by=(("geography_level", True), ("cohort_fy", True), ("instrument", True), ("item", True))),
    Chart("equity_table", "Equity of access and outcome by deprivation, age, sex and ethnic group", EQUITY,
          "table", "People referred per 1,000 registered, the share engaged, and the change in GP "
          "appointments and wellbeing (SWEMWBS) by population group.",
          columns=("geography_name", "cohort_fy_label", "dimension_label", "value_label", "people_referred_shown",
                   "rate_shown",
                   "engaged_pct_shown", "gp_pct_change_shown", "swemwbs_change_shown"),
          where=("dimension <> 'all'",), levels=("england", "region"),
          order_by=(("geography_level", True), ("cohort_fy", True), ("dimension", True), ("value", True))),
    Chart("equity_deprivation", "People referred per 1,000 by deprivation quintile", EQUITY,
          "echarts_timeseries_bar", "Index of Multiple Deprivation quintile (1 = most deprived), all cohort "
          "years.", x="value_label", metrics=("rate_per_1000",), groupby=("geography_name",),
          where=("dimension = 'imd_quintile'", "cohort_fy = 'all'"), levels=("england", "region"),
          x_title="IMD quintile", y_title="per 1,000"),
    # ICB analyst
    Chart("demand_local", "Demand reduction by ICB, sub-ICB and PCN", DEMAND, "table",
          "Standard design at ICB, sub-ICB location and PCN level; use the filters for cohort year, "
          "population, subgroup and window.",
          columns=("geography_level_label", "geography_name", "cohort_fy_label", "population_label", "subgroup_label",
                   "window_months",
                   "measure_label", "n_patients_shown", "pct_change_shown", "did_pct_shown", "did_mean_shown"),
          where=("design = 'standard'",), levels=("icb", "sub_icb", "pcn"), row_limit=20000,
          height=70),
    Chart("cohort_attrition", "Cohort attrition", ATTRITION, "table",
          "Index patients referred, excluded by each eligibility rule, eligible and engaged.",
          columns=("geography_level_label", "geography_name", "cohort_fy_label", "window_months", "referred_shown",
                   "excluded_incomplete_follow_up_shown", "excluded_not_registered_throughout_shown",
                   "excluded_died_shown", "eligible_shown", "engaged_shown"),
          order_by=(("geography_level", True), ("cohort_fy", True), ("window_months", True)), row_limit=20000),
    *(Chart(f"replication_{design}", f"{name} replication", DEMAND, "table",
            f"The {name} evaluation design reproduced on this data (methods section 3).",
            columns=("geography_level_label", "geography_name", "cohort_fy_label", "population_label", "window_months",
                     "measure_label", "n_patients_shown", "pre_mean_shown", "post_mean_shown", "pct_change_shown"),
            where=(f"design = '{design}'",), order_by=(("measure_label", True),), row_limit=20000)
      for design, name in (("gloucestershire", "Gloucestershire"), ("rotherham", "Rotherham"))),
    Chart("costs", "Cost of use before and after referral", DEMAND, "table",
          "Unit cost and the change in cost after referral, for costed measures (methods section 5).",
          columns=("geography_level_label", "geography_name", "cohort_fy_label", "population_label", "window_months",
                   "measure_label", "n_patients_shown", "cost_gbp_shown", "cost_change_gbp_shown"),
          where=("design = 'standard'", "subgroup = 'all'", "cost_gbp is not null"), row_limit=20000),
    Chart("pcn_rollout_table", "Rollout by PCN and month", PCN_MONTH, "table",
          "Registered population, workforce and referral activity of each PCN.",
          columns=("month", "icb_name", "sub_icb_name", "pcn_code", "pcn_name", "registered_population_shown",
                   "wte_shown", "entitlement_shown", "referrals_shown", "referrals_per_1000_shown",
                   "caseload_per_wte_shown", "declined_pct_shown", "median_days_shown"),
          order_by=(("month", False), ("pcn_code", True)), row_limit=20000),
    # NHS England rollout
    Chart("regions_wte", "Link workers in post as % of ARRS entitlement, by region", PCN_MONTH,
          "echarts_timeseries_line", "Whole-time equivalent link workers in post as a percentage of the ARRS "
          "entitlement, each month, by NHS England region.", x="month", metrics=("wte_pct_of_entitlement",),
          groupby=("region_name",), time_grain="P1M", number_format=",.1f", y_title="%"),
    Chart("regions_referral_rate", "Referrals per 1,000 registered (annualised), by region", PCN_MONTH,
          "echarts_timeseries_line", "Monthly referral rate of each NHS England region.", x="month",
          metrics=("referrals_per_1000",), groupby=("region_name",), time_grain="P1M", number_format=",.1f",
          y_title="per 1,000"),
    Chart("regions_progress", "Progress against ambition, by region and financial year (%)", PROGRESS,
          "echarts_timeseries_bar", "Cumulative referrals as a percentage of each region's pro-rata share of "
          "900,000.", x="geography_name", metrics=("pct_of_ambition",), groupby=("financial_year",),
          levels=("region",), number_format=",.1f", x_title="Region", y_title="%"),
    Chart("england_referrals", "Cumulative referrals, England, 2023/24", PROGRESS, "big_number_total",
          "People referred to social prescribing link workers in England in the ambition year.",
          metrics=("cumulative_referrals",), where=("is_ambition_year",), levels=("england",),
          number_format=",d"),
    Chart("regions_side_by_side", "Regions side by side", PROGRESS, "table",
          "Each region's referrals, ambition share and workforce by financial year.",
          columns=("geography_name", "financial_year", "as_at_month", "cumulative_referrals_shown",
                   "pro_rata_ambition_shown", "pct_of_ambition_shown", "wte_shown", "entitlement_shown",
                   "wte_pct_shown"),
          levels=("england", "region"),
          order_by=(("financial_year", False), ("geography_name", True))),
    # data quality
    Chart("dq_deliveries", "Deliveries by source and month", QUALITY, "table",
          "Files received and loaded, rows loaded and rejected, unknown codes and linkage per delivery month.",
          columns=("source_label", "delivery_month", "files_received", "files_loaded", "files_rejected",
                   *(f"{c}_shown" for c in QUALITY_COUNTS), "linkage_rate_pct_shown"),
          order_by=(("delivery_month", False), ("source_label", True)), height=60),
    Chart("dq_rejected", "Rejected rows by rule and source", QUALITY, "echarts_timeseries_bar",
          "Rows rejected by each validation rule of the data contract.", x="source_label", metrics=REJECT_RULES,
          x_title="Source", y_title="Rows"),
    Chart("dq_linkage", "Linkage rate by month (%)", QUALITY, "echarts_timeseries_line",
          "Share of person-level records linked to a registered patient (wellbeing: to a referral).",
          x="delivery_month", metrics=("linkage_rate",), groupby=("source_label",), time_grain="P1M",
          number_format=",.1f", y_title="%"),
    Chart("dq_unknown_codes", "Rows with unknown practice or PCN codes", QUALITY, "echarts_timeseries_bar",
          "Records whose practice or PCN code is absent from the practice reference.", x="delivery_month",
          metrics=("unknown_codes",), groupby=("source_label",), time_grain="P1M", y_title="Rows"),
)

# ---------------------------------------------------------------- dashboards

SUPPRESSION_NOTE = ("Counts of 1 to 7 people are shown as *suppressed*; counts of 8 or more are rounded to "
                    "the nearest 5 at every level, England included, and means and rates come from the "
                    "rounded counts. Suppressed values are never shown as zero.")

# Areas are chosen by name: every published table the dashboards read by area carries region_name,
# icb_name and, below ICB level, sub_icb_name and pcn_name beside the codes (the names of the areas the
# row lies in, NULL where the code is). Other codes are chosen in words (seed ref_value_labels).
REGION = Filter("NHS England region", "region_name", PCN_MONTH, level="region")
ICB = Filter("ICB", "icb_name", PCN_MONTH, parents=("region_name",), level="icb")
SUB_ICB = Filter("Sub-ICB location", "sub_icb_name", PCN_MONTH, parents=("icb_name",), level="sub_icb")
PCN = Filter("PCN", "pcn_name", PCN_MONTH, parents=("sub_icb_name",), level="pcn")
FY = Filter("Financial year", "financial_year", PCN_MONTH)


def effect_rows(effects: tuple) -> tuple:
    """The "What changed" tab's rows: the headline, two rows of three, the table (regional and ICB alike)."""
    return (
        ((effects[0].key, 12),),
        tuple((c.key, 4) for c in effects[1:4]),
        tuple((c.key, 4) for c in effects[4:7]),
        ((effects[7].key, 12),),
    )


def worth_tab(costs: object, run_charts: tuple) -> Tab:
    """The cost consequences and the three run charts, each with its note (regional and ICB alike)."""
    return Tab("worth", "What it is worth and referrals over time", (
        ((costs.key, 8), COST_NOTE),
        ((run_charts[0].key, 6), (run_charts[1].key, 6)),
        ((run_charts[2].key, 6), RUN_CHART_NOTE),
    ))


DASHBOARDS = (
    Dashboard(
        "regional_steering", "regional-steering-group", "Social prescribing: regional steering group",
        "Link-worker rollout, demand reduction, wellbeing and equity for an NHS England region.",
        tabs=(
            Tab("effect", "What changed", (
                (Markdown("intro", "## Regional steering group\nWhat social prescribing changed: the primary "
                          "estimate, then how it unfolds month by month and how three designs compare. The "
                          "other tabs hold what it is worth and the run charts, the link-worker workforce and "
                          "referrals, and outcomes and equity. " + SUPPRESSION_NOTE, height=16),),
                *effect_rows(REGION_EFFECTS),
            )),
            worth_tab(REGION_COSTS, REGION_RUN_CHARTS),
            Tab("rollout", "Link workers and referrals", (
                (("wte_vs_entitlement_by_pcn", 8), ("progress_pct", 4)),
                (("progress_vs_ambition", 12),),
                (("pathway_referral_source", 6), ("pathway_referral_reason", 6)),
                (("pathway_activity", 6), ("pathway_outcome", 6)),
            )),
            Tab("outcomes", "Outcomes and equity", (
                (("demand_before_after_did", 12),),
                (("wellbeing_change", 12),),
                (("equity_table", 7), ("equity_deprivation", 5)),
            )),
        ),
        filters=(REGION, ICB, SUB_ICB, PCN, FY),
    ),
    Dashboard(
        "icb_analyst", "icb-analyst", "Social prescribing: ICB analyst",
        "Sub-ICB and PCN detail, cohort attrition, replication of the Gloucestershire and Rotherham "
        "evaluations, and costs.",
        tabs=(
            Tab("effect", "What changed", (
                (Markdown("intro", "## ICB analyst\nThe primary estimate first; detail below ICB level, cohort "
                          "attrition, the replications and costs on the other tabs. Choose cohort year, "
                          "population (referred or engaged), subgroup and window in the filter bar. "
                          + SUPPRESSION_NOTE, height=16),),
                *effect_rows(ICB_EFFECTS),
            )),
            worth_tab(ICB_COSTS, ICB_RUN_CHARTS),
            Tab("detail", "Local detail, replications and costs", (
                (("demand_local", 12),),
                (("cohort_attrition", 6), ("costs", 6)),
                (("replication_gloucestershire", 6), ("replication_rotherham", 6)),
                (("pcn_rollout_table", 12),),
            )),
        ),
        filters=(REGION, ICB, SUB_ICB, PCN, FY,
                 Filter("Population", "population_label", DEMAND, "Referred or engaged", multi=False),
                 Filter("Subgroup", "subgroup_label", DEMAND),
                 Filter("Window (months)", "window_months", DEMAND)),
    ),
    Dashboard(
        "nhse_rollout", "nhs-england-rollout", "Social prescribing: NHS England rollout",
        "All NHS England regions side by side: workforce against entitlement, referral rates and progress "
        "against the 900,000 ambition.",
        rows=(
            (("england_referrals", 4), ("regions_progress", 8)),
            (("regions_wte", 6), ("regions_referral_rate", 6)),
            ((NHSE_RUN_CHARTS[0].key, 6), (NHSE_RUN_CHARTS[1].key, 6)),
            ((NHSE_RUN_CHARTS[2].key, 6), RUN_CHART_NOTE),
            (("regions_side_by_side", 12),),
        ),
        filters=(REGION, FY),
    ),
    Dashboard(
        "data_quality", "data-quality", "Social prescribing: data quality",
        "Deliveries, rejected rows, unknown codes and linkage by source and month.",
        rows=(
            (("dq_deliveries", 12),),
            (("dq_rejected", 12),),
            (("dq_linkage", 6), ("dq_unknown_codes", 6)),
        ),
        filters=(Filter("Source", "source_label", QUALITY),),
    ),
)
