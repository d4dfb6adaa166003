"""Explicit /api/v1/chart/data bodies for the bundle's charts.

Imported charts carry no saved query context, so tests and the benchmark build the query from the
chart's form data (params) the same way for every chart type the bundle uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class BundleChart:
    uuid: str
    name: str
    viz: str
    params: dict[str, Any]
    dataset_uuid: str


def bundle_charts(bundle: Path) -> list[BundleChart]:
    out = []
    for path in sorted((bundle / "charts").glob("*.yaml")):
        c = yaml.safe_load(path.read_text())
        out.append(BundleChart(c["uuid"], c["slice_name"], c["viz_type"], c["params"], c["dataset_uuid"]))
    return out


def bundle_dashboards(bundle: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((bundle / "dashboards").glob("*.yaml"))]


def dashboard_tabs(dash: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(title, chart nodes in layout order) of each top-level tab of a bundle dashboard, in order; one
    untitled entry holding every chart when the dashboard has no tabs. Superset 6.1 asks for a chart's
    data only when its tab is shown, so opening a dashboard queries the first entry's charts."""
    position = dash["position"]
    charts = [n for n in position.values() if isinstance(n, dict) and n.get("type") == "CHART"]
    top = position["ROOT_ID"]["children"]
    if not top or position[top[0]]["type"] != "TABS":
        return [("", charts)]
    return [(position[tab]["meta"]["text"], [n for n in charts if tab in n["parents"]])
            for tab in position[top[0]]["children"]]


def query_for(params: dict[str, Any], extra_filters: list[dict[str, Any]] | None = None,
              row_limit: int | None = None) -> dict[str, Any]:
    """One query object equivalent to what the chart asks for (fixed filters included)."""
    where = " and ".join(f"({f['sqlExpression']})" for f in params.get("adhoc_filters", [])
                         if f.get("expressionType") == "SQL")
    viz = params["viz_type"]
    orderby: list[list[Any]] = []
    metrics: list[str] | None
    if viz == "table":
        # metrics None (not []) makes a raw query: no GROUP BY, as the table chart's raw mode does.
        columns, metrics = list(params["all_columns"]), None
        orderby = [json.loads(o) for o in params.get("order_by_cols", [])]
    elif viz == "big_number_total":
        columns, metrics = [], [params["metric"]]
    elif viz == "box_plot":
        # one row per (category, distributed-across value); Superset's box plot summarises them
        columns, metrics = [*params.get("groupby", []), *params.get("columns", [])], list(params["metrics"])
    elif viz.startswith("echarts_timeseries") or viz == "mixed_timeseries":
        # the mixed chart's first query; chart_data_body adds its second (metrics_b)
        columns, metrics = [params["x_axis"], *params.get("groupby", [])], list(params["metrics"])
        orderby = [[params["x_axis"], True]]
    else:
        raise ValueError(f"no query builder for viz type {viz}")
    return {
        "columns": columns,
        "metrics": metrics,
        "orderby": orderby,
        "filters": list(extra_filters or []),
        "extras": {"where": where, "having": ""},
        "row_limit": row_limit or params.get("row_limit", 10000),
    }


def chart_data_body(params: dict[str, Any], dataset_id: int, force: bool = False,
                    extra_filters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    query = query_for(params, extra_filters)
    queries = [query]
    if params["viz_type"] == "mixed_timeseries":
        queries.append({**query, "metrics": list(params["metrics_b"])})
    if params.get("server_pagination"):
        # What the table chart asks for when it pages on the server: the first page and a row count.
        query["row_limit"], query["row_offset"] = params["server_page_length"], 0
        queries.append({**query, "is_rowcount": True, "row_limit": None, "row_offset": 0, "orderby": []})
    return {
        "datasource": {"id": dataset_id, "type": "table"},
        "force": force,
        "queries": queries,
        "result_format": "json",
        "result_type": "full",
    }
