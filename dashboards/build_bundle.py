"""Write the Superset YAML bundle in dashboards/bundle/ from the definitions in dashboards/definitions.py.

The bundle is what gets committed and imported; this script is how it is maintained. Dataset columns
come from the published tables of a built warehouse (information_schema), so run it against a warehouse
built by dbt:

    SPW_HOME=... python dashboards/build_bundle.py            # introspect, validate, write
    python dashboards/build_bundle.py --check                 # fail if the committed bundle is stale

Every UUID is derived from a stable key (uuid5), so regenerating never changes identities and a
re-import overwrites in place.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import definitions as d  # noqa: E402

BUNDLE = HERE / "bundle"
NAMESPACE = uuid.UUID("6f1f8f9e-4c1e-4d8a-9a52-5b0d2c1e7a10")
DATABASE_FILE = "databases/warehouse.yaml"
# Committed URI: host, port and password are filled in by spw.superset.bundle at import time.
PAGE_ROWS = 1000  # tables allowed more rows than this use server-side pagination
PLACEHOLDER_URI = "postgresql+psycopg2://spw_bi_reader:XXXXXXXXXX@127.0.0.1:5432/warehouse"


def stable_uuid(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"spw:{kind}:{key}"))


# ---------------------------------------------------------------- introspection


def introspect(tables: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Column names and types of published tables, in table order, as the BI reader sees them."""
    from spw import db

    out: dict[str, list[tuple[str, str]]] = {}
    with db.connect("warehouse", "spw_bi_reader") as conn:
        for table in tables:
            rows = conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'published' and table_name = %s order by ordinal_position",
                (table,),
            ).fetchall()
            if not rows:
                raise SystemExit(f"published.{table} does not exist (or spw_bi_reader cannot read it)")
            out[table] = [(r[0], r[1].upper()) for r in rows]
    return out


# ---------------------------------------------------------------- YAML pieces


def database_yaml() -> dict[str, Any]:
    return {
        "database_name": d.DATABASE_NAME,
        "sqlalchemy_uri": PLACEHOLDER_URI,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "extra": {"allows_virtual_table_explore": False, "schemas_allowed_for_file_upload": []},
        "uuid": stable_uuid("database", "warehouse"),
        "version": "1.0.0",
    }


def _column(name: str, typ: str, expression: str | None = None) -> dict[str, Any]:
    return {
        "column_name": name,
        "verbose_name": d.LABELS.get(name),
        "is_dttm": typ in ("DATE", "TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP WITH TIME ZONE"),
        "is_active": True,
        "type": typ,
        "advanced_data_type": None,
        "groupby": True,
        "filterable": True,
        "expression": expression,
        "description": d.DESCRIPTIONS.get(name),
        "python_date_format": None,
        "extra": None,
    }


def calculated(ds: d.Dataset, physical: dict[str, str]) -> dict[str, tuple[str, str]]:
    """The dataset's calculated columns: its own, and `<code>_label` in words for each text code column
    of the seed ref_value_labels the table has (name -> type), unless the table has that label itself."""
    words = {f"{c}_label": d.in_words(c) for c in d.value_labels()
             if physical.get(c) == "TEXT" and f"{c}_label" not in physical}
    return {**words, **ds.calculated}


def dataset_yaml(ds: d.Dataset, columns: list[tuple[str, str]]) -> dict[str, Any]:
    physical = dict(columns)
    cols = [_column(name, typ) for name, typ in columns]
    for name, (expr, typ) in calculated(ds, physical).items():
        if name in physical:
            continue  # the table grew the column: prefer the real one
        cols.append(_column(name, typ, expr))
    temporal = [c["column_name"] for c in cols if c["is_dttm"]]
    return {
        "table_name": ds.table,
        "main_dttm_col": temporal[0] if temporal else None,
        "description": ds.description,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "catalog": None,
        "schema": "published",
        "sql": None,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": stable_uuid("dataset", ds.table),
        "metrics": [
            {"metric_name": m.name, "verbose_name": m.label, "metric_type": None, "expression": m.sql,
             "description": m.description, "d3format": m.d3format, "currency": None, "extra": None,
             "warning_text": None}
            for m in ds.metrics
        ],
        "columns": cols,
        "version": "1.0.0",
        "database_uuid": stable_uuid("database", "warehouse"),
    }


def level_clause(levels: tuple[str, ...]) -> str:
    unknown = set(levels) - set(d.LEVELS)
    if unknown:
        raise ValueError(f"unknown geography levels {sorted(unknown)}")
    if len(levels) == 1:
        return f"geography_level = '{levels[0]}'"
    return "geography_level in (" + ", ".join(f"'{v}'" for v in levels) + ")"


def in_scope(f: d.Filter, c: d.Chart, columns: dict[str, set[str]]) -> bool:
    """A filter narrows a chart whose dataset has its column, unless the chart shows only coarser levels.

    E.g. the ICB filter leaves a region-level chart alone rather than emptying it.
    """
    if f.column not in columns[c.dataset]:
        return False
    if f.level and c.levels:
        return max(d.LEVELS.index(v) for v in c.levels) >= d.LEVELS.index(f.level)
    return True


def chart_params(c: d.Chart) -> dict[str, Any]:
    """form_data for the chart's viz type; only settings whose behaviour on import is well known."""
    where = [*c.where, level_clause(c.levels)] if c.levels else list(c.where)
    filters = [{"clause": "WHERE", "expressionType": "SQL", "sqlExpression": w} for w in where]
    base: dict[str, Any] = {"viz_type": c.viz, "adhoc_filters": filters, "extra_form_data": {},
                            "dashboards": [], "color_scheme": d.COLOR_SCHEME}
    if c.viz == "table":
        # Long tables page on the server: the browser fetches one page (and a row count), not every row.
        paged = c.row_limit > PAGE_ROWS
        base.update(query_mode="raw", all_columns=list(c.columns), order_by_cols=[
            json.dumps([col, asc]) for col, asc in c.order_by], row_limit=c.row_limit,
            server_pagination=paged, server_page_length=50 if paged else 0, include_search=not paged,
            table_timestamp_format="%Y-%m",
            allow_render_html=False, show_cell_bars=False, color_pn=False, percent_metrics=[], groupby=[],
            metrics=[], temporal_columns_lookup={})
    elif c.viz == "big_number_total":
        base.update(metric=c.metrics[0], y_axis_format=c.number_format, header_font_size=0.4,
                    subheader_font_size=0.15, subtitle=c.subtitle or "", force_timestamp_formatting=False)
    elif c.viz in ("echarts_timeseries_bar", "echarts_timeseries_line"):
        base.update(
            x_axis=c.x, metrics=list(c.metrics), groupby=list(c.groupby), row_limit=c.row_limit,
            orientation="vertical", show_legend=True, legendType="scroll", legendOrientation="top",
            rich_tooltip=True, y_axis_format=c.number_format, x_axis_title=c.x_title, y_axis_title=c.y_title,
            x_axis_title_margin=30, y_axis_title_margin=40, y_axis_title_position="Left",
            truncateXAxis=True, y_axis_bounds=[None, None], zoomable=False, only_total=True,
            order_desc=True, x_axis_sort_asc=True, x_axis_time_format="%b %Y", tooltipTimeFormat="%b %Y",
            comparison_type="values", annotation_layers=[], forecastEnabled=False, markerEnabled=True,
            markerSize=4, sort_series_type="sum", show_empty_columns=True, truncate_metric=True,
        )
        if c.time_grain:
            base["time_grain_sqla"] = c.time_grain
        if c.viz == "echarts_timeseries_bar":
            base["stack"] = None
            base["show_value"] = False
    elif c.viz == "box_plot":
        # Box from the 25th to the 75th percentile of the rows each box summarises, whiskers to their
        # minimum and maximum: the published interval rows make the box the 95% interval.
        base.update(groupby=list(c.groupby), columns=list(c.columns_across), metrics=list(c.metrics),
                    whiskerOptions="Min/max (no outliers)", x_ticks_layout="flat", number_format=c.number_format,
                    date_format="smart_date", row_limit=c.row_limit, time_grain_sqla=None, temporal_columns_lookup={},
                    show_legend=False, x_axis_title=c.x_title, y_axis_title=c.y_title, x_axis_title_margin=30,
                    y_axis_title_margin=50, y_axis_title_position="Left")
    elif c.viz == "mixed_timeseries":
        # Run chart: query A draws the series, mean and limits as plain lines, query B the special-cause
        # points as large markers with no line, so a special cause is a separate, named series (legend, tooltip)
        # as well as a colour. Both queries share the fixed filters and the x axis.
        shared = dict(x_axis=c.x, groupby=[], groupby_b=[], adhoc_filters_b=filters, row_limit=c.row_limit,
                      row_limit_b=c.row_limit, order_desc=False, order_desc_b=False, show_legend=True,
                      # a plain legend wraps, so every series is named on the chart (a scrolling one pages)
                      legendType="plain", legendOrientation="top", rich_tooltip=True,
                      y_axis_format=c.number_format, y_axis_format_secondary=c.number_format,
                      x_axis_title=c.x_title, y_axis_title=c.y_title, x_axis_title_margin=30,
                      y_axis_title_margin=40, y_axis_title_position="Left", truncateXAxis=True,
                      y_axis_bounds=[None, None], zoomable=False, x_axis_time_format="%b %Y",
                      tooltipTimeFormat="%b %Y", annotation_layers=[], truncate_metric=True)
        base.update(shared, metrics=list(c.metrics), metrics_b=list(c.metrics_b), seriesType="line",
                    seriesTypeB="scatter", markerEnabled=False, markerEnabledB=True, markerSize=4,
                    markerSizeB=10, yAxisIndex=0, yAxisIndexB=0, area=False, areaB=False, stack=None,
                    stackB=None, show_value=False, show_valueB=False, opacity=0.2, opacityB=0.2)
        if c.time_grain:
            base["time_grain_sqla"] = c.time_grain
    else:
        raise ValueError(f"{c.key}: unsupported viz {c.viz}")
    return base


def chart_yaml(c: d.Chart) -> dict[str, Any]:
    return {
        "slice_name": c.title,
        "description": c.description,
        "certified_by": None,
        "certification_details": None,
        "viz_type": c.viz,
        "params": chart_params(c),
        "query_context": None,
        "cache_timeout": None,
        "uuid": stable_uuid("chart", c.key),
        "version": "1.0.0",
        "dataset_uuid": stable_uuid("dataset", c.dataset),
    }


def dashboard_yaml(dash: d.Dashboard, charts: dict[str, d.Chart], chart_ids: dict[str, int],
                   columns: dict[str, set[str]]) -> dict[str, Any]:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"id": "ROOT_ID", "type": "ROOT", "children": ["GRID_ID"]},
        "GRID_ID": {"id": "GRID_ID", "type": "GRID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": dash.title}},
    }
    # Tabs at the top (Superset's top-level tabs): ROOT -> TABS -> TAB -> ROW; otherwise GRID -> ROW.
    if dash.tabs:
        tabs_id = f"TABS-{dash.key}"
        position["ROOT_ID"]["children"] = [tabs_id]
        position[tabs_id] = {"id": tabs_id, "type": "TABS", "children": [], "parents": ["ROOT_ID"]}
        placed = []
        for tab in dash.tabs:
            tab_id = f"TAB-{dash.key}-{tab.key}"
            position[tabs_id]["children"].append(tab_id)
            position[tab_id] = {"id": tab_id, "type": "TAB", "children": [], "parents": ["ROOT_ID", tabs_id],
                                "meta": {"text": tab.title, "defaultText": "Tab title", "placeholder": "Tab title"}}
            placed += [(row, tab_id, ["ROOT_ID", tabs_id, tab_id]) for row in tab.rows]
    else:
        placed = [(row, "GRID_ID", ["ROOT_ID", "GRID_ID"]) for row in dash.rows]
    for r, (row, holder, parents) in enumerate(placed):
        row_id = f"ROW-{dash.key}-{r}"
        position[holder]["children"].append(row_id)
        position[row_id] = {"id": row_id, "type": "ROW", "children": [], "parents": parents,
                            "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for item in row:
            if isinstance(item, d.Markdown):
                node_id = f"MARKDOWN-{dash.key}-{item.key}"
                position[node_id] = {"id": node_id, "type": "MARKDOWN", "children": [],
                                     "parents": [*parents, row_id],
                                     "meta": {"code": item.text, "width": item.width, "height": item.height}}
            else:
                key, width = item
                c = charts[key]
                node_id = f"CHART-{key}"
                position[node_id] = {"id": node_id, "type": "CHART", "children": [],
                                     "parents": [*parents, row_id],
                                     "meta": {"chartId": chart_ids[key], "uuid": stable_uuid("chart", key),
                                              "sliceName": c.title, "width": width, "height": c.height}}
            position[row_id]["children"].append(node_id)
    in_dash = [item[0] for row in dash.all_rows for item in row if not isinstance(item, d.Markdown)]
    # categories of the box plots (event months, designs) and run-chart series keep the same colour
    # wherever they appear
    label_colors = d.label_colours() if any(charts[k].viz in ("box_plot", "mixed_timeseries")
                                            for k in in_dash) else {}
    return {
        "dashboard_title": dash.title,
        "description": dash.description,
        "css": "",
        "slug": dash.slug,
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "uuid": stable_uuid("dashboard", dash.key),
        "position": position,
        "metadata": {
            "color_scheme": d.COLOR_SCHEME,
            "label_colors": label_colors,
            "shared_label_colors": [],
            "map_label_colors": {},
            "color_scheme_domain": [],
            "cross_filters_enabled": False,
            "refresh_frequency": 0,
            "timed_refresh_immune_slices": [],
            "expanded_slices": {},
            "default_filters": "{}",
            "chart_configuration": {},
            "global_chart_configuration": {},
            "native_filter_configuration": native_filters(dash, charts, chart_ids, in_dash, columns),
        },
        "version": "1.0.0",
    }


def native_filters(dash: d.Dashboard, charts: dict[str, d.Chart], chart_ids: dict[str, int],
                   in_dash: list[str], columns: dict[str, set[str]]) -> list[dict[str, Any]]:
    """Select filters on a shared column name; charts out of scope (in_scope) are listed as excluded."""
    out = []
    for f in dash.filters:
        if f.column not in columns[f.dataset]:
            raise SystemExit(f"{dash.key}: filter {f.name} targets missing column {f.dataset}.{f.column}")
        excluded = [chart_ids[k] for k in in_dash if not in_scope(f, charts[k], columns)]
        value = list(f.default) if f.default else None
        out.append({
            "id": f"NATIVE_FILTER-{dash.key}-{f.column}",
            "name": f.name,
            "description": f.description,
            "filterType": "filter_select",
            "type": "NATIVE_FILTER",
            "targets": [{"column": {"name": f.column}, "datasetUuid": stable_uuid("dataset", f.dataset)}],
            "controlValues": {"multiSelect": f.multi, "enableEmptyFilter": False, "defaultToFirstItem": False,
                              "inverseSelection": False, "searchAllOptions": False, "sortAscending": True},
            "defaultDataMask": {"extraFormData": ({"filters": [{"col": f.column, "op": "IN", "val": value}]}
                                                  if value else {}),
                                "filterState": {"value": value} if value else {}, "ownState": {}},
            "cascadeParentIds": [f"NATIVE_FILTER-{dash.key}-{p}" for p in f.parents],
            "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded},
        })
    return out


# ---------------------------------------------------------------- validation and writing


def validate_sql(physical: dict[str, dict[str, str]]) -> list[str]:
    """Every metric and calculated column runs against the published table (as the BI reader)."""
    from spw import db

    problems = []
    with db.connect("warehouse", "spw_bi_reader", autocommit=True) as conn:
        for ds in d.DATASETS:
            exprs = [(f"metric {m.name}", m.sql) for m in ds.metrics]
            exprs += [(f"column {name}", expr) for name, (expr, _) in calculated(ds, physical[ds.table]).items()]
            for what, expr in exprs:
                try:
                    conn.execute(f"select {expr} from published.{ds.table} limit 0")
                except Exception as exc:  # noqa: BLE001 - reported below with the expression
                    problems.append(f"{ds.table} {what}: {str(exc).splitlines()[0]}")
    return problems


def validate(columns: dict[str, set[str]]) -> list[str]:
    """Every chart column/metric exists: a stale bundle fails here, not in a user's browser."""
    problems = []
    datasets = {ds.table: ds for ds in d.DATASETS}
    for c in d.CHARTS:
        ds = datasets[c.dataset]
        cols = columns[c.dataset]
        metric_names = {m.name for m in ds.metrics}
        for col in [*c.columns, *c.groupby, *c.columns_across, *([c.x] if c.x else []),
                    *(o for o, _ in c.order_by)]:
            if col not in cols:
                problems.append(f"chart {c.key}: column {col} not in {c.dataset}")
        for m in (*c.metrics, *c.metrics_b):
            if m not in metric_names:
                problems.append(f"chart {c.key}: metric {m} not in {c.dataset}")
    placed = [item[0] for dash in d.DASHBOARDS for row in dash.all_rows for item in row
              if not isinstance(item, d.Markdown)]
    keys = {c.key for c in d.CHARTS}
    problems += [f"dashboard names unknown chart {k}" for k in placed if k not in keys]
    problems += [f"chart {k} is on no dashboard" for k in sorted(keys - set(placed))]
    return problems


def dump(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))


def build(out: Path) -> None:
    tables = [ds.table for ds in d.DATASETS]
    physical = introspect(tables)
    types = {t: dict(cols) for t, cols in physical.items()}
    columns = {ds.table: set(types[ds.table]) | set(calculated(ds, types[ds.table])) for ds in d.DATASETS}
    problems = validate(columns) + validate_sql(types)
    if problems:
        raise SystemExit("bundle definitions do not match the published tables:\n  " + "\n  ".join(problems))
    if out.exists():
        shutil.rmtree(out)
    dump(out / "metadata.yaml", {"version": "1.0.0", "type": "assets",
                                 "timestamp": "2026-01-01T00:00:00+00:00"})
    dump(out / DATABASE_FILE, database_yaml())
    for ds in d.DATASETS:
        dump(out / "datasets" / "warehouse" / f"{ds.table}.yaml", dataset_yaml(ds, physical[ds.table]))
    charts = {c.key: c for c in d.CHARTS}
    chart_ids = {c.key: i + 1 for i, c in enumerate(d.CHARTS)}
    for c in d.CHARTS:
        dump(out / "charts" / f"{c.key}.yaml", chart_yaml(c))
    for dash in d.DASHBOARDS:
        dump(out / "dashboards" / f"{dash.key}.yaml", dashboard_yaml(dash, charts, chart_ids, columns))


def stale_files(fresh: Path, committed: Path) -> list[str]:
    """Paths (relative to the bundle) that differ, or exist on one side only, at any depth."""
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} \
            if root.is_dir() else {}

    new, old = files(fresh), files(committed)
    return sorted(name for name in new.keys() | old.keys() if new.get(name) != old.get(name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUNDLE)
    parser.add_argument("--check", action="store_true", help="compare with the committed bundle")
    args = parser.parse_args(argv)
    if args.check:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp) / "bundle")
            stale = stale_files(Path(tmp) / "bundle", BUNDLE)
        if stale:
            print("bundle is stale (regenerate it with dashboards/build_bundle.py): " + ", ".join(stale))
            return 1
        print("bundle is up to date")
        return 0
    build(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
