"""Render the catalogue into Superset 6.1's asset bundle (the format of `superset export` and
`ImportAssetsCommand`): one YAML per database, dataset, chart and dashboard, stable UUIDs.

`python -m phwarehouse.dashboards render` writes `superset/assets/`; a test checks the committed
files equal the rendering, so the YAML in git is always what is imported.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import yaml

from phwarehouse.dashboards import catalog
from phwarehouse.dashboards.catalog import Chart, Dashboard, Dataset, NativeFilter
from phwarehouse.dashboards.model_docs import MARTS_SCHEMA, dashboard_models
from phwarehouse.settings import PROJECT_ROOT

ASSETS_DIR = PROJECT_ROOT / "superset" / "assets"
EXPOSURES_YML = (
    PROJECT_ROOT / "dbt_project" / "models" / "marts" / "dashboards" / "_dashboards__exposures.yml"
)
DASHBOARD_URL = "http://127.0.0.1:8088/superset/dashboard/{slug}/"
VERSION = "1.0.0"
DATABASE_NAME = "公共卫生数据仓库 warehouse"
DATABASE_FILE = "databases/warehouse.yaml"
# The committed URI names the BI role and the local stack's defaults; the importer puts in the
# configured host, port and database, and the password is given at import (never committed).
DATABASE_URI_TEMPLATE = "postgresql+psycopg2://{user}:XXXXXXXXXX@{host}:{port}/{database}"
DEFAULT_DATABASE_URI = DATABASE_URI_TEMPLATE.format(
    user="phw_bi_reader", host="127.0.0.1", port=54329, database="warehouse"
)
SUPERSET_TYPES = {
    "text": "TEXT",
    "numeric": "NUMERIC",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "date": "DATE",
    "timestamp without time zone": "TIMESTAMP WITHOUT TIME ZONE",
    "boolean": "BOOLEAN",
}
# how a table chart shows a temporal column (Superset's default, smart_date, would show a
# cut-off date as "Sun 22"); timestamps in the marts are wall-clock times in Asia/Shanghai
TIME_FORMATS = {"date": "%Y-%m-%d", "timestamp without time zone": "%Y-%m-%d %H:%M:%S"}
# dataset `extra` key marking a dataset without org-unit rows: superset_apply puts no
# row-level-security filter on it (its clauses name columns it lacks)
NO_RLS_KEY = "phw_row_level_security"
_NAMESPACE = uuid.UUID("6f1c1c1e-3b7a-4c55-9f43-2a8e51a0e0b1")


def stable_uuid(kind: str, key: str) -> str:
    """The same asset gets the same UUID on every rendering (import overwrites by UUID)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{key}"))


DATABASE_UUID = stable_uuid("database", "warehouse")


def dataset_uuid(model: str) -> str:
    return stable_uuid("dataset", model)


def chart_uuid(chart: Chart) -> str:
    return stable_uuid("chart", chart.key)


# ---------------------------------------------------------------------------------------------
# database and datasets
# ---------------------------------------------------------------------------------------------


def database_config() -> dict[str, Any]:
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": DEFAULT_DATABASE_URI,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "extra": {"allows_virtual_table_explore": False},
        "uuid": DATABASE_UUID,
        "version": VERSION,
    }


def dataset_config(dataset: Dataset) -> dict[str, Any]:
    model = dashboard_models()[dataset.model]
    return {
        "table_name": dataset.model,
        "main_dttm_col": dataset.main_dttm_col,
        "description": model.description,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "catalog": None,
        "schema": MARTS_SCHEMA,
        "sql": None,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None if dataset.row_level_security else {NO_RLS_KEY: False},
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": dataset_uuid(dataset.model),
        "metrics": [
            {
                "metric_name": m.name,
                "verbose_name": m.label,
                "metric_type": None,
                "expression": m.expression,
                "description": m.description or None,
                "d3format": m.d3format,
                "currency": None,
                "extra": {},
                "warning_text": None,
            }
            for m in dataset.metrics
        ],
        "columns": [
            {
                "column_name": col.name,
                "verbose_name": col.label_zh,
                "is_dttm": col.data_type in TIME_FORMATS,
                "is_active": True,
                "type": SUPERSET_TYPES[col.data_type],
                "advanced_data_type": None,
                "groupby": True,
                "filterable": True,
                "expression": None,
                "description": col.description,
                "python_date_format": None,
                "extra": {},
            }
            for col in model.columns
        ],
        "version": VERSION,
        "database_uuid": DATABASE_UUID,
    }


# ---------------------------------------------------------------------------------------------
# charts: form data (params) and the saved query context
# ---------------------------------------------------------------------------------------------

TIMESERIES = ("echarts_timeseries_line", "echarts_timeseries_bar")


def _metric_format(chart: Chart) -> str:
    return _format_of(chart, chart.metrics[0]) if chart.metrics else ",.2f"


def _sql_metric(expression: str) -> dict[str, Any]:
    return {
        "expressionType": "SQL",
        "sqlExpression": expression,
        "label": expression,
        "hasCustomLabel": False,
        "optionName": f"metric_{stable_uuid('metric', expression)[:8]}",
    }


def _order_metric(term: str) -> str | dict[str, Any]:
    """A saved metric by name, or an aggregate SQL expression as an adhoc metric."""
    return term if "(" not in term else _sql_metric(term)


def _adhoc_filters(chart: Chart) -> list[dict[str, Any]]:
    filters = [
        {
            "expressionType": "SQL",
            "sqlExpression": condition,
            "clause": "WHERE",
            "subject": None,
            "operator": None,
            "comparator": None,
            "isExtra": False,
            "isNew": False,
            "filterOptionName": f"filter_{stable_uuid('filter', chart.key + condition)[:8]}",
        }
        for condition in chart.where
    ]
    if chart.viz in TIMESERIES and not chart.options.get("x_is_category"):
        filters.append(
            {
                "expressionType": "SIMPLE",
                "subject": chart.columns[0],
                "operator": "TEMPORAL_RANGE",
                "comparator": "No filter",
                "clause": "WHERE",
                "isExtra": False,
                "isNew": False,
                "sqlExpression": None,
                "filterOptionName": f"filter_{stable_uuid('range', chart.key)[:8]}",
            }
        )
    return filters


def form_data(chart: Chart) -> dict[str, Any]:
    """The chart's params, as Superset's explore view saves them for its viz type."""
    fd: dict[str, Any] = {
        "viz_type": chart.viz,
        "adhoc_filters": _adhoc_filters(chart),
        "row_limit": chart.row_limit,
        "color_scheme": "supersetColors",
        "extra_form_data": {},
    }
    fmt = _metric_format(chart)
    options = chart.options
    if chart.viz == "table":
        fd.update(
            query_mode="aggregate",
            groupby=list(chart.columns),
            metrics=list(chart.metrics),
            all_columns=[],
            percent_metrics=[],
            order_by_cols=[],
            server_pagination=False,
            server_page_length=10,
            include_search=False,
            show_cell_bars=False,
            color_pn=False,
            allow_render_html=False,
            table_timestamp_format="smart_date",
            conditional_formatting=list(options.get("conditional_formatting", ())),
            column_config={
                **_time_formats(chart),
                **{m: {"d3NumberFormat": _format_of(chart, m)} for m in chart.metrics},
            },
        )
        if chart.order_by:
            term, ascending = chart.order_by[0]
            fd.update(timeseries_limit_metric=_order_metric(term), order_desc=not ascending)
    elif chart.viz == "big_number_total":
        fd.update(
            metric=chart.metrics[0],
            subheader=options.get("subheader", ""),
            header_font_size=0.4,
            subheader_font_size=0.15,
            y_axis_format=fmt,
            time_format="smart_date",
        )
    elif chart.viz == "pie":
        fd.update(
            groupby=list(chart.columns),
            metric=chart.metrics[0],
            show_labels=True,
            labels_outside=True,
            label_type="key_value",
            number_format=",d",
            show_legend=True,
            legendType="scroll",
            legendOrientation="top",
            donut=True,
            innerRadius=30,
            outerRadius=70,
            sort_by_metric=True,
        )
    elif chart.viz == "pivot_table_v2":
        fd.update(
            groupbyRows=[chart.columns[0]],
            groupbyColumns=list(chart.columns[1:]),
            metrics=list(chart.metrics),
            metricsLayout="COLUMNS",
            aggregateFunction="Sum",
            rowTotals=False,
            colTotals=False,
            rowSubTotals=False,
            colSubTotals=False,
            transposePivot=False,
            combineMetric=False,
            valueFormat=fmt,
            date_format="smart_date",
            rowOrder="key_a_to_z",
            colOrder="key_a_to_z",
            order_desc=True,
            conditional_formatting=list(options.get("conditional_formatting", ())),
        )
    elif chart.viz in TIMESERIES:
        fd.update(
            x_axis=chart.columns[0],
            time_grain_sqla=options.get("time_grain_sqla"),
            groupby=list(chart.columns[1:]),
            metrics=list(chart.metrics),
            order_desc=True,
            truncate_metric=True,
            show_legend=True,
            legendType="scroll",
            legendOrientation="top",
            rich_tooltip=True,
            tooltipTimeFormat="smart_date",
            y_axis_format=fmt,
            x_axis_time_format=options.get("x_axis_time_format", "smart_date"),
            xAxisLabelRotation=45 if options.get("x_is_category") else 0,
            markerEnabled=True,
            markerSize=6,
            seriesType="line",
            stack="Stack" if options.get("stack") else None,
            orientation="vertical",
            comparison_type="values",
            annotation_layers=[],
            forecastPeriods=10,
            forecastInterval=0.8,
            sort_series_type="sum",
            show_value=chart.viz == "echarts_timeseries_bar" and len(chart.columns) == 1,
            only_total=True,
            zoomable=False,
        )
        if options.get("sort_by_metric"):
            fd.update(x_axis_sort=chart.metrics[0], x_axis_sort_asc=False)
            fd.update(x_axis_sort_series="sum", x_axis_sort_series_ascending=False)
    else:
        raise ValueError(f"chart {chart.key}: unsupported viz type {chart.viz}")
    return fd


def _time_formats(chart: Chart) -> dict[str, dict[str, str]]:
    model = dashboard_models()[chart.dataset]
    formats = {c: TIME_FORMATS.get(model.column(c).data_type) for c in chart.columns}
    return {c: {"d3TimeFormat": f} for c, f in formats.items() if f}


def _format_of(chart: Chart, metric: str) -> str:
    dataset = catalog.DATASETS[chart.dataset]
    return next((m.d3format or ",.2f" for m in dataset.metrics if m.name == metric), ",.2f")


def query_context(chart: Chart, params: dict[str, Any]) -> dict[str, Any]:
    """The query the chart runs (saved so the chart-data API, cache warm-up and reports can
    run it without a browser); the importer puts in the dataset's id."""
    columns: list[Any] = list(chart.columns)
    if chart.viz in TIMESERIES and not chart.options.get("x_is_category"):
        columns[0] = {
            "timeGrain": chart.options.get("time_grain_sqla"),
            "columnType": "BASE_AXIS",
            "sqlExpression": chart.columns[0],
            "label": chart.columns[0],
            "expressionType": "SQL",
        }
    orderby = [[_order_metric(term), ascending] for term, ascending in chart.order_by]
    if not orderby and chart.metrics:
        orderby = [[chart.metrics[0], False]]
    where = " AND ".join(f"({condition})" for condition in chart.where)
    query = {
        "filters": [],
        "extras": {"having": "", "where": where},
        "applied_time_extras": {},
        "columns": columns,
        "metrics": list(chart.metrics),
        "orderby": orderby,
        "annotation_layers": [],
        "row_limit": chart.row_limit,
        "series_limit": 0,
        "order_desc": True,
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
    }
    return {
        "datasource": {"id": 0, "type": "table"},
        "force": False,
        "queries": [query],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }


def chart_config(chart: Chart) -> dict[str, Any]:
    params = form_data(chart)
    return {
        "slice_name": chart.title,
        "description": chart.description or None,
        "certified_by": None,
        "certification_details": None,
        "viz_type": chart.viz,
        "params": params,
        "query_context": json.dumps(query_context(chart, params), ensure_ascii=False),
        "cache_timeout": None,
        "uuid": chart_uuid(chart),
        "version": VERSION,
        "dataset_uuid": dataset_uuid(chart.dataset),
    }


# ---------------------------------------------------------------------------------------------
# dashboards: layout, native filters, colours
# ---------------------------------------------------------------------------------------------


def applies(native_filter: NativeFilter, chart: Chart) -> bool:
    """A native filter applies to a chart whose dataset has its column, unless it ignores it."""
    columns = dashboard_models()[chart.dataset].column_names
    return native_filter.column in columns and native_filter.column not in chart.ignores


def _native_filter(dashboard: Dashboard, f: NativeFilter, ids: dict[str, int]) -> dict[str, Any]:
    def filter_id(key: str) -> str:
        return f"NATIVE_FILTER-{dashboard.slug}-{key}"

    default_mask: dict[str, Any] = {"extraFormData": {}, "filterState": {}, "ownState": {}}
    if f.default is not None:
        default_mask = {
            "extraFormData": {"filters": [{"col": f.column, "op": "IN", "val": [f.default]}]},
            "filterState": {"value": [f.default], "label": f.default},
            "ownState": {},
        }
    excluded = [ids[c.key] for c in dashboard.charts if not applies(f, c)]
    return {
        "id": filter_id(f.key),
        "name": f.name,
        "filterType": "filter_select",
        "type": "NATIVE_FILTER",
        "description": f.description,
        "targets": [{"datasetUuid": dataset_uuid(f.dataset), "column": {"name": f.column}}],
        "controlValues": {
            "enableEmptyFilter": f.required,
            "defaultToFirstItem": f.first_by_default,
            "multiSelect": False,
            "searchAllOptions": False,
            "inverseSelection": False,
            "sortAscending": f.sort_ascending,
        },
        "defaultDataMask": default_mask,
        # charts wait for a first-value default before they query (set by Superset's editor)
        "requiredFirst": f.first_by_default,
        "cascadeParentIds": [filter_id(p) for p in f.parents],
        "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded},
        "tabsInScope": [],
    }


def _chart_position(chart: Chart, row_id: str, ids: dict[str, int]) -> dict[str, Any]:
    return {
        "type": "CHART",
        "id": f"CHART-{chart.key}",
        "children": [],
        "parents": ["ROOT_ID", "GRID_ID", row_id],
        "meta": {
            "width": chart.width,
            "height": chart.height,
            "chartId": ids[chart.key],
            "uuid": chart_uuid(chart),
            "sliceName": chart.title,
        },
    }


def _position(dashboard: Dashboard, ids: dict[str, int]) -> dict[str, Any]:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": dashboard.title}},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
    }
    grid = position["GRID_ID"]["children"]
    intro_row, intro = "ROW-intro", "MARKDOWN-intro"
    header_width = sum(c.width for c in dashboard.header)
    if header_width > 8:
        raise ValueError(f"{dashboard.slug}: the header leaves the intro under 4 columns")
    grid.append(intro_row)
    position[intro_row] = {
        "type": "ROW",
        "id": intro_row,
        "children": [intro, *(f"CHART-{c.key}" for c in dashboard.header)],
        "parents": ["ROOT_ID", "GRID_ID"],
        "meta": {"background": "BACKGROUND_TRANSPARENT"},
    }
    position[intro] = {
        "type": "MARKDOWN",
        "id": intro,
        "children": [],
        "parents": ["ROOT_ID", "GRID_ID", intro_row],
        "meta": {
            "width": 12 - header_width,
            "height": max([12, *(c.height for c in dashboard.header)]),
            "code": dashboard.intro,
        },
    }
    for chart in dashboard.header:
        position[f"CHART-{chart.key}"] = _chart_position(chart, intro_row, ids)
    for n, row in enumerate(dashboard.rows, start=1):
        if sum(c.width for c in row) > 12:
            raise ValueError(f"{dashboard.slug}: row {n} is wider than the 12-column grid")
        row_id = f"ROW-{n}"
        grid.append(row_id)
        position[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [f"CHART-{c.key}" for c in row],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for chart in row:
            position[f"CHART-{chart.key}"] = _chart_position(chart, row_id, ids)
    return position


def dashboard_config(dashboard: Dashboard, ids: dict[str, int]) -> dict[str, Any]:
    return {
        "dashboard_title": dashboard.title,
        "description": None,
        "css": "",
        "slug": dashboard.slug,
        "certified_by": "区卫生健康委员会",
        "certification_details": "数据来自公共卫生数据仓库（dbt marts），口径见 indicators.md",
        "published": True,
        "uuid": stable_uuid("dashboard", dashboard.slug),
        "position": _position(dashboard, ids),
        "metadata": {
            "native_filter_configuration": [
                _native_filter(dashboard, f, ids) for f in dashboard.filters
            ],
            "color_scheme": "supersetColors",
            "label_colors": dict(catalog.LABEL_COLOURS),
            "shared_label_colors": [],
            "color_scheme_domain": [],
            "timed_refresh_immune_slices": [],
            "expanded_slices": {},
            "refresh_frequency": 0,
            "cross_filters_enabled": False,
            "chart_configuration": {},
            "global_chart_configuration": {
                "scope": {"rootPath": ["ROOT_ID"], "excluded": []},
                "chartsInScope": [],
            },
        },
        "version": VERSION,
    }


# ---------------------------------------------------------------------------------------------
# the bundle
# ---------------------------------------------------------------------------------------------


def _dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=100)


def render() -> dict[str, str]:
    """Every file of the bundle: relative path -> YAML text."""
    files = {
        "metadata.yaml": _dump({"version": VERSION, "type": "assets"}),
        DATABASE_FILE: _dump(database_config()),
    }
    for dataset in catalog.DATASETS.values():
        files[f"datasets/warehouse/{dataset.model}.yaml"] = _dump(dataset_config(dataset))
    charts: dict[str, Chart] = {}
    for dashboard in catalog.dashboards():
        for chart in dashboard.charts:
            if charts.setdefault(chart.key, chart) is not chart and charts[chart.key] != chart:
                raise ValueError(f"two different charts have the key {chart.key}")
    # position ids before import: a stable number per chart (the importer maps them by UUID)
    ids = {key: n for n, key in enumerate(sorted(charts), start=1)}
    for key, chart in sorted(charts.items()):
        files[f"charts/{key}.yaml"] = _dump(chart_config(chart))
    for dashboard in catalog.dashboards():
        files[f"dashboards/{dashboard.slug}.yaml"] = _dump(dashboard_config(dashboard, ids))
    return files


def exposures() -> str:
    """Each dashboard as a dbt exposure, so `dbt docs` shows the lineage platform → dashboard."""
    doc = {
        "version": 2,
        "exposures": [
            {
                "name": f"superset_{dashboard.slug}",
                "label": f"看板：{dashboard.title}",
                "type": "dashboard",
                "maturity": "high",
                "url": DASHBOARD_URL.format(slug=dashboard.slug),
                "description": f"Superset dashboard {dashboard.title} ({len(dashboard.charts)} "
                "charts; superset/assets, rendered from phwarehouse.dashboards.catalog). "
                + dashboard.intro,
                "depends_on": [
                    f"ref('{model}')" for model in sorted({c.dataset for c in dashboard.charts})
                ],
                "owner": {"name": "区卫生健康委员会 数据组", "email": "data-team@phw.invalid"},
            }
            for dashboard in catalog.dashboards()
        ],
    }
    header = "# Generated by `python -m phwarehouse.dashboards render`: do not edit by hand.\n"
    return header + _dump(doc)


def write(target: Path = ASSETS_DIR, exposures_yml: Path = EXPOSURES_YML) -> list[str]:
    """Write the bundle into `target` (replacing it) and the dbt exposures; returns the files
    written."""
    exposures_yml.write_text(exposures(), encoding="utf-8")
    files = render()
    if target.exists():
        shutil.rmtree(target)
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)


def read(source: Path = ASSETS_DIR) -> dict[str, str]:
    """The committed bundle: relative path -> text."""
    return {
        str(p.relative_to(source)): p.read_text(encoding="utf-8")
        for p in sorted(source.rglob("*.yaml"))
    }
