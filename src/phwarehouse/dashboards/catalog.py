"""The dashboards, declared once: datasets (the dbt models of `marts/dashboards`), their metrics,
the charts, the native filters and the layout. `bundle` renders this into Superset's format.

Indicator lists come from the dbt seed `indicator_catalogue` (codes, Chinese names, domains), so
a new indicator of a domain gets its trend chart without a change here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache

from phwarehouse.settings import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "dbt_project" / "seeds"

# ---------------------------------------------------------------------------------------------
# Datasets and their metrics
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    expression: str
    d3format: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Dataset:
    model: str  # dbt model in schema marts (a contracted table)
    main_dttm_col: str | None
    metrics: tuple[Metric, ...]
    # False for a dataset without org-unit rows (the publication stamp): the RLS clauses name
    # township / facility columns it lacks, so no RLS filter is put on it
    row_level_security: bool = True


INDICATORS = "dashboard_indicator_values"
VACCINATION = "dashboard_vaccination_coverage"
NCD_BANDS = "dashboard_ncd_premature_bands"
SERVICES = "dashboard_service_volume"
REPORTING = "dashboard_reporting_completeness"
DQ_ISSUES = "dashboard_data_quality_issues"
PUBLICATION = "dashboard_publication"

# Rates over several org units are pooled from numerators and denominators (spec §1: never
# average rates); one row keeps its published value (life-table indicators cannot be pooled).
INDICATOR_VALUE_SQL = (
    "CASE WHEN COUNT(*) = 1 THEN MAX(value) "
    "WHEN BOOL_OR(denominator_kind = 'life_table') THEN NULL "
    "ELSE ROUND(SUM(numerator) * MAX(multiplier) / NULLIF(SUM(denominator), 0), 4) END"
)
# WHO SDG 3.4.1 per band, pooled: M = deaths / population, q = 5M / (1 + 2.5M), in %.
NCD_Q_SQL = (
    "ROUND(100 * 5 * (SUM(deaths)::numeric / NULLIF(SUM(population), 0)) "
    "/ (1 + 2.5 * (SUM(deaths)::numeric / NULLIF(SUM(population), 0))), 4)"
)

DATASETS: dict[str, Dataset] = {
    d.model: d
    for d in (
        Dataset(
            INDICATORS,
            "period_end",
            (
                Metric(
                    "indicator_value",
                    "指标值",
                    INDICATOR_VALUE_SQL,
                    ",.2f",
                    "One org unit: its published value; several: Σ numerator × multiplier / "
                    "Σ denominator (null for life-table indicators).",
                ),
                Metric("target", "目标值", "MAX(target_value)", ",.2f"),
                Metric("expected_to_date", "序时进度", "MAX(expected_to_date)", ",.2f"),
                Metric("attainment", "目标达成度(%)", "MAX(target_attainment_pct)", ",.1f"),
                Metric("numerator_sum", "分子", "SUM(numerator)", ",.0f"),
                Metric("denominator_sum", "分母", "SUM(denominator)", ",.0f"),
                Metric("indicator_count", "指标数", "COUNT(*)", ",d"),
            ),
        ),
        Dataset(
            VACCINATION,
            "period_end",
            (
                Metric(
                    "coverage",
                    "接种率(%)",
                    "ROUND(100.0 * SUM(children_vaccinated) / NULLIF(SUM(children_due), 0), 2)",
                    ",.2f",
                ),
                Metric("children_due_sum", "应种人数", "SUM(children_due)", ",d"),
                Metric("children_vaccinated_sum", "实种人数", "SUM(children_vaccinated)", ",d"),
            ),
        ),
        Dataset(
            NCD_BANDS,
            None,
            (
                Metric("death_probability_pct", "死亡概率 q(%)", NCD_Q_SQL, ",.3f"),
                Metric("deaths_sum", "死亡数", "SUM(deaths)", ",d"),
                Metric("population_sum", "人口数", "SUM(population)", ",d"),
            ),
        ),
        Dataset(
            SERVICES,
            "service_month",
            (
                Metric("services_sum", "服务人次", "SUM(services)", ",d"),
                Metric("persons_served_sum", "服务人数(月合计)", "SUM(persons_served)", ",d"),
                Metric("excluded_sum", "剔除人次", "SUM(excluded_services)", ",d"),
            ),
        ),
        Dataset(
            REPORTING,
            "report_month",
            (
                Metric(
                    "completeness_pct",
                    "上报完整率(%)",
                    "ROUND(100.0 * SUM(received_reports) / NULLIF(SUM(expected_reports), 0), 1)",
                    ",.1f",
                    "已报数 / 应报数（截止日已过的月份；应报：当月开业的机构）",
                ),
                Metric(
                    "timeliness_pct",
                    "上报及时率(%)",
                    "ROUND(100.0 * SUM(on_time_reports) / NULLIF(SUM(expected_reports), 0), 1)",
                    ",.1f",
                    "按时报数 / 应报数（按时：当月25日前报送）",
                ),
                Metric("expected_sum", "应报数", "SUM(expected_reports)", ",d"),
                Metric("received_sum", "已报数", "SUM(received_reports)", ",d"),
                Metric("on_time_sum", "按时报数", "SUM(on_time_reports)", ",d"),
                Metric("avg_days_late", "平均逾期天数", "ROUND(AVG(due_days_late), 1)", ",.1f"),
            ),
        ),
        Dataset(
            DQ_ISSUES,
            "issue_month",
            (
                Metric("issue_rows_sum", "条数", "SUM(issue_rows)", ",d"),
                Metric("issue_records_sum", "记录数", "SUM(records)", ",d"),
            ),
        ),
        Dataset(PUBLICATION, None, (), row_level_security=False),
    )
}

# ---------------------------------------------------------------------------------------------
# The indicator catalogue (dbt seed): codes, names, domains
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    domain: str
    unit: str
    is_annual_only: bool


@cache
def indicators() -> tuple[Indicator, ...]:
    with (SEEDS / "indicator_catalogue.csv").open(encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["display_order"]))
    return tuple(
        Indicator(
            r["indicator_code"],
            r["name_zh"],
            r["domain"],
            r["unit"],
            r["is_annual_only"].strip().lower() == "true",
        )
        for r in rows
    )


@cache
def domain_names() -> dict[str, str]:
    with (SEEDS / "indicator_domains.csv").open(encoding="utf-8") as f:
        return {r["domain"]: r["name_zh"] for r in csv.DictReader(f)}


def sql_in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------

# colours of the status labels on every dashboard (达标 green, 未达标 red) and of the value,
# 序时进度 and target series of every trend
LABEL_COLOURS = {
    "达标": "#1A9850",
    "未达标": "#D73027",
    "无目标": "#9E9E9E",
    "无数据": "#D9D9D9",
    "指标值": "#2171B5",
    "序时进度": "#FD8D3C",
    "目标值": "#D73027",
}
ATTAINMENT_FORMATTING = (
    {"column": "attainment", "operator": "<", "targetValue": 100, "colorScheme": "#D73027"},
    {"column": "attainment", "operator": "≥", "targetValue": 100, "colorScheme": "#1A9850"},
)


@dataclass(frozen=True)
class Chart:
    """One chart. `columns` are the group-by (or, for a raw table, the shown) columns; for a
    time-series or bar chart the first one is the x axis. `where` are fixed SQL conditions.
    `ignores` names native-filter columns that must not apply (e.g. a trend ignores the
    period). Native filters on columns its dataset lacks never apply."""

    key: str
    title: str
    viz: str
    dataset: str
    columns: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()  # (column or metric, ascending)
    row_limit: int = 1000
    ignores: frozenset[str] = frozenset()
    width: int = 6
    height: int = 50
    options: dict = field(default_factory=dict, hash=False, compare=False)
    description: str = ""


@dataclass(frozen=True)
class NativeFilter:
    key: str
    name: str
    dataset: str
    column: str
    default: str | None = None  # None: the first value (in the sort order) by default
    first_by_default: bool = False
    sort_ascending: bool = True
    required: bool = False
    parents: tuple[str, ...] = ()
    description: str = ""


# The publication the dashboard shows (数据截至 / 发布编号 / 发布时间), beside the intro of every
# dashboard: the stamp lives in the marts it describes, so a rollback brings its stamp back.
PUBLICATION_STAMP = Chart(
    "publication_stamp",
    "数据版本",
    "table",
    PUBLICATION,
    columns=("data_cutoff_date", "publication_id", "published_at"),
    row_limit=10,  # one row; a limit equal to the row count puts Superset's ⚠ "limit reached"
    width=5,
    height=16,
    description="本看板数据的截至日期、发布编号与发布时间（北京时间）；回退发布时随数据一同回退。",
)


@dataclass(frozen=True)
class Dashboard:
    slug: str
    title: str
    intro: str  # markdown shown at the top
    filters: tuple[NativeFilter, ...]
    rows: tuple[tuple[Chart, ...], ...]
    header: tuple[Chart, ...] = (PUBLICATION_STAMP,)  # beside the intro

    @property
    def charts(self) -> tuple[Chart, ...]:
        return tuple(chart for row in (self.header, *self.rows) for chart in row)


MONTH_YTD = "月度（年初至今）"
YEAR = "年度"
PERIOD_COLUMNS = frozenset({"assessment_year", "period_type_zh", "period_key"})


def standard_filters(default_period_type: str = MONTH_YTD) -> tuple[NativeFilter, ...]:
    """考核年度 → 周期类型 → 统计周期 (latest by default), 层级 (highest visible by default),
    乡镇 → 机构."""
    return (
        NativeFilter(
            "year",
            "考核年度",
            INDICATORS,
            "assessment_year",
            first_by_default=True,
            sort_ascending=False,
            required=True,
            description="默认最新考核年度",
        ),
        NativeFilter(
            "period_type",
            "周期类型",
            INDICATORS,
            "period_type_zh",
            default=default_period_type,
            required=True,
            description="月度、季度为年初至该期末的累计值",
        ),
        NativeFilter(
            "period",
            "统计周期",
            INDICATORS,
            "period_key",
            first_by_default=True,
            sort_ascending=False,
            required=True,
            parents=("year", "period_type"),
            description="默认最新一期",
        ),
        NativeFilter(
            "level",
            "层级",
            INDICATORS,
            "org_level_zh",
            first_by_default=True,
            required=True,
            description="显示哪一级的数值；默认为您可见的最高一级",
        ),
        NativeFilter("township", "乡镇（街道）", INDICATORS, "township_name"),
        NativeFilter("facility", "机构", INDICATORS, "facility_name", parents=("township",)),
    )


def _slug(code: str) -> str:
    return code.lower()


def indicator_table(key: str, title: str, where: tuple[str, ...] = ()) -> Chart:
    return Chart(
        key,
        title,
        "table",
        INDICATORS,
        columns=(
            "indicator_name_zh",
            "status_zh",
            "provisional_mark",
            "org_unit_name",
            "period_label_zh",
            "unit",
            "target_comparator",
        ),
        metrics=(
            "indicator_value",
            "target",
            "expected_to_date",
            "attainment",
            "numerator_sum",
            "denominator_sum",
        ),
        where=where,
        order_by=(("MIN(indicator_order)", True),),
        width=12,
        height=60,
        options={"conditional_formatting": ATTAINMENT_FORMATTING},
        description="每个指标的值、目标、序时进度、达成度与状态；暂定值标注“暂定”。",
    )


def trend_chart(indicator: Indicator) -> Chart:
    """Monthly year-to-date values of one indicator in the chosen year, against the target and
    序时进度 (annual-only indicators: one point per year, every year)."""
    if indicator.is_annual_only:
        return Chart(
            f"trend_{_slug(indicator.code)}",
            f"{indicator.name_zh}（{indicator.unit}）历年趋势",
            "echarts_timeseries_line",
            INDICATORS,
            columns=("period_end",),
            metrics=("indicator_value", "target"),
            where=(f"indicator_code = '{indicator.code}'", "period_type = 'year'"),
            ignores=PERIOD_COLUMNS,
            options={"time_grain_sqla": "P1Y", "x_axis_time_format": "%Y"},
        )
    return Chart(
        f"trend_{_slug(indicator.code)}",
        f"{indicator.name_zh}（{indicator.unit}）逐月累计趋势",
        "echarts_timeseries_line",
        INDICATORS,
        columns=("period_end",),
        metrics=("indicator_value", "expected_to_date", "target"),
        where=(f"indicator_code = '{indicator.code}'", "period_type = 'month'"),
        ignores=PERIOD_COLUMNS - {"assessment_year"},
        options={"time_grain_sqla": "P1M", "x_axis_time_format": "%Y-%m"},
    )


def comparison_chart(key: str, title: str, level: str, where: tuple[str, ...]) -> Chart:
    """One bar per org unit of `level` and indicator, for the chosen period."""
    return Chart(
        key,
        title,
        "echarts_timeseries_bar",
        INDICATORS,
        columns=("org_unit_name", "indicator_name_zh"),
        metrics=("indicator_value",),
        where=(*where, f"org_level = '{level}'"),
        ignores=frozenset({"org_level_zh"}),
        options={"x_is_category": True},
    )


def domain_dashboard(slug: str, title: str, domains: tuple[str, ...], extra=()) -> Dashboard:
    codes = tuple(i for i in indicators() if i.domain in domains)
    where = (sql_in("domain", domains),)
    annual = all(i.is_annual_only for i in codes)
    trends = [trend_chart(i) for i in codes]
    trend_rows = tuple(tuple(trends[i : i + 2]) for i in range(0, len(trends), 2))
    names = "、".join(domain_names()[d] for d in domains)
    return Dashboard(
        slug,
        title,
        f"**{names}**：所选周期与单位的各项指标，"
        + ("历年趋势" if annual else "本考核年度逐月累计趋势（对照序时进度与目标）")
        + "，以及乡镇、机构之间的比较。",
        standard_filters(YEAR if annual else MONTH_YTD),
        (
            (indicator_table(f"{slug}_table", f"{title}：指标一览", where),),
            *trend_rows,
            (
                comparison_chart(f"{slug}_townships", "乡镇（街道）比较", "township", where),
                comparison_chart(f"{slug}_facilities", "机构比较", "facility", where),
            ),
            *extra,
        ),
    )


KEY_INDICATORS = (
    "EHR_FILING",
    "FD_KEYPOP_CONTRACT",
    "HTN_STD_MGMT",
    "T2D_STD_MGMT",
    "ELD_HEALTH_MGMT",
    "CH_VACCINATION",
)


def big_number(code: str) -> Chart:
    indicator = next(i for i in indicators() if i.code == code)
    return Chart(
        f"overview_kpi_{_slug(code)}",
        indicator.name_zh,
        "big_number_total",
        INDICATORS,
        metrics=("indicator_value",),
        where=(f"indicator_code = '{code}'",),
        width=2,
        height=30,
        options={"subheader": f"单位：{indicator.unit}"},
    )


def overview() -> Dashboard:
    return Dashboard(
        "overview",
        "总览",
        "所选周期、单位的全部国家基本公共卫生服务指标：指标值、目标值、序时进度"
        "（目标 × 已过月数 / 12）、达成度与状态（达标 / 未达标 / 无目标）。"
        "月度、季度为年初至该期末的累计值；数据尚可能增加的周期标注“暂定”。",
        standard_filters(),
        (
            tuple(big_number(code) for code in KEY_INDICATORS),
            (
                Chart(
                    "overview_status",
                    "达标情况（指标数）",
                    "pie",
                    INDICATORS,
                    columns=("status_zh",),
                    metrics=("indicator_count",),
                    width=4,
                ),
                Chart(
                    "overview_attainment",
                    "各指标目标达成度(%)",
                    "echarts_timeseries_bar",
                    INDICATORS,
                    columns=("indicator_name_zh", "status_zh"),
                    metrics=("attainment",),
                    where=("target_value IS NOT NULL",),
                    width=8,
                    options={"x_is_category": True, "stack": True},
                ),
            ),
            (indicator_table("overview_table", "全部指标"),),
        ),
    )


def ranking() -> Dashboard:
    facility = ("org_level = 'facility'",)
    return Dashboard(
        "ranking",
        "机构排名",
        "各基层医疗卫生机构的指标值与目标达成度（≥100% 绿色为达标，<100% 红色为未达标），"
        "以及所选指标的机构排名。",
        (
            *[f for f in standard_filters() if f.key != "level"],
            NativeFilter(
                "indicator",
                "指标",
                INDICATORS,
                "indicator_name_zh",
                first_by_default=True,
                required=True,
                description="排名图所用的指标",
            ),
        ),
        (
            (
                Chart(
                    "ranking_attainment",
                    "机构 × 指标：目标达成度(%)",
                    "pivot_table_v2",
                    INDICATORS,
                    columns=("facility_name", "indicator_name_zh"),
                    metrics=("attainment",),
                    where=(*facility, "target_value IS NOT NULL"),
                    ignores=frozenset({"indicator_name_zh"}),
                    width=12,
                    height=50,
                    options={"conditional_formatting": ATTAINMENT_FORMATTING},
                ),
            ),
            (
                Chart(
                    "ranking_values",
                    "机构 × 指标：指标值",
                    "pivot_table_v2",
                    INDICATORS,
                    columns=("facility_name", "indicator_name_zh"),
                    metrics=("indicator_value",),
                    where=facility,
                    ignores=frozenset({"indicator_name_zh"}),
                    width=12,
                    height=50,
                ),
            ),
            (
                Chart(
                    "ranking_bar",
                    "所选指标的机构排名",
                    "echarts_timeseries_bar",
                    INDICATORS,
                    columns=("facility_name", "status_zh"),
                    metrics=("indicator_value",),
                    where=facility,
                    width=7,
                    options={"x_is_category": True, "stack": True, "sort_by_metric": True},
                ),
                Chart(
                    "ranking_table",
                    "所选指标的机构排名（表）",
                    "table",
                    INDICATORS,
                    columns=("facility_name", "township_name", "status_zh"),
                    metrics=("indicator_value", "target", "attainment"),
                    where=facility,
                    order_by=(("indicator_value", False),),
                    width=5,
                ),
            ),
        ),
    )


def maternal_child() -> Dashboard:
    vaccination = (
        (
            Chart(
                "mch_vaccination_doses",
                "国家免疫规划疫苗分剂次接种率(%)",
                "echarts_timeseries_bar",
                VACCINATION,
                columns=("vaccine_dose_zh",),
                metrics=("coverage",),
                width=8,
                options={"x_is_category": True},
            ),
            Chart(
                "mch_vaccination_table",
                "分剂次应种、实种人数",
                "table",
                VACCINATION,
                columns=("vaccine_dose_zh",),
                metrics=("children_due_sum", "children_vaccinated_sum", "coverage"),
                order_by=(("MIN(vaccine_code)", True), ("MIN(dose_number)", True)),
                width=4,
            ),
        ),
    )
    return domain_dashboard("mch", "妇幼健康", ("maternal", "child"), vaccination)


def outcomes() -> Dashboard:
    bands = (
        (
            Chart(
                "outcomes_ncd_bands",
                "重大慢性病过早死亡：分年龄组死亡概率 q(%)",
                "echarts_timeseries_bar",
                NCD_BANDS,
                columns=("age_band_zh",),
                metrics=("death_probability_pct",),
                width=7,
                options={"x_is_category": True},
            ),
            Chart(
                "outcomes_ncd_bands_table",
                "分年龄组死亡数与人口数",
                "table",
                NCD_BANDS,
                columns=("age_band_zh",),
                metrics=("deaths_sum", "population_sum", "death_probability_pct"),
                order_by=(("MIN(band_start_age)", True),),
                width=5,
            ),
        ),
    )
    return domain_dashboard("outcomes", "结局指标", ("outcomes",), bands)


def service_volume() -> Dashboard:
    return Dashboard(
        "services",
        "服务量",
        "各机构逐月提供的基本公共卫生服务人次，按服务类型（不含因日期不合理而剔除的记录）。",
        (
            NativeFilter(
                "month",
                "月份",
                SERVICES,
                "service_month_key",
                first_by_default=True,
                sort_ascending=False,
                required=True,
                description="机构 × 服务类型表所用的月份；默认最新月份",
            ),
            NativeFilter("township", "乡镇（街道）", SERVICES, "township_name"),
            NativeFilter("facility", "机构", SERVICES, "facility_name", parents=("township",)),
        ),
        (
            (
                Chart(
                    "services_trend",
                    "逐月服务人次（按服务类型）",
                    "echarts_timeseries_bar",
                    SERVICES,
                    columns=("service_month", "service_type_zh"),
                    metrics=("services_sum",),
                    ignores=frozenset({"service_month_key"}),
                    width=12,
                    options={
                        "time_grain_sqla": "P1M",
                        "stack": True,
                        "x_axis_time_format": "%Y-%m",
                    },
                ),
            ),
            (
                Chart(
                    "services_by_facility",
                    "机构 × 服务类型：所选月份服务人次",
                    "pivot_table_v2",
                    SERVICES,
                    columns=("facility_name", "service_type_zh"),
                    metrics=("services_sum",),
                    width=12,
                    height=50,
                ),
            ),
            (
                Chart(
                    "services_persons",
                    "所选月份各机构服务人次、人数与剔除人次",
                    "table",
                    SERVICES,
                    columns=("facility_name", "township_name"),
                    metrics=("services_sum", "persons_served_sum", "excluded_sum"),
                    order_by=(("services_sum", False),),
                    width=12,
                ),
            ),
        ),
    )


def data_quality() -> Dashboard:
    """Spec §4 reporting completeness and timeliness, and the §6 exclusions and quarantine."""
    excluded = "issue_source_zh = '剔除与标记'"
    quarantined = "issue_source_zh = '入库隔离'"
    return Dashboard(
        "quality",
        "数据质量",
        "各机构月度工作报表的**上报完整率**（已报 / 应报）与**及时率**（当月25日前报送 / 应报），"
        "应报为当月开业的机构、截止日已过的月份；以及按原因统计的数据剔除与标记"
        "（不合理数值、类型错误、日期不合理等，记录仍计入其可计入的指标）"
        "和入库时隔离的记录（不进入任何指标）。",
        (
            NativeFilter(
                "year",
                "考核年度",
                REPORTING,
                "assessment_year",
                first_by_default=True,
                sort_ascending=False,
                required=True,
                description="上报完整率与及时率的考核年度；默认最新",
            ),
            NativeFilter("township", "乡镇（街道）", REPORTING, "township_name"),
            NativeFilter("facility", "机构", REPORTING, "facility_name", parents=("township",)),
        ),
        (
            tuple(
                Chart(
                    f"quality_kpi_{metric}",
                    title,
                    "big_number_total",
                    REPORTING,
                    metrics=(metric,),
                    width=3,
                    height=30,
                )
                for metric, title in (
                    ("completeness_pct", "上报完整率(%)"),
                    ("timeliness_pct", "上报及时率(%)"),
                    ("expected_sum", "应报数"),
                    ("avg_days_late", "平均逾期天数"),
                )
            ),
            (
                Chart(
                    "quality_reporting_trend",
                    "逐月上报完整率与及时率",
                    "echarts_timeseries_line",
                    REPORTING,
                    columns=("report_month",),
                    metrics=("completeness_pct", "timeliness_pct"),
                    width=12,
                    options={"time_grain_sqla": "P1M", "x_axis_time_format": "%Y-%m"},
                ),
            ),
            (
                Chart(
                    "quality_reporting_facilities",
                    "各机构上报情况",
                    "table",
                    REPORTING,
                    columns=("township_name", "facility_name"),
                    metrics=(
                        "expected_sum",
                        "received_sum",
                        "on_time_sum",
                        "completeness_pct",
                        "timeliness_pct",
                        "avg_days_late",
                    ),
                    order_by=(("completeness_pct", True),),
                    width=12,
                ),
            ),
            (
                Chart(
                    "quality_exclusions_by_reason",
                    "数据剔除与标记：按原因",
                    "echarts_timeseries_bar",
                    DQ_ISSUES,
                    columns=("reason_zh",),
                    metrics=("issue_rows_sum",),
                    where=(excluded,),
                    order_by=(("issue_rows_sum", False),),
                    options={"x_is_category": True},
                ),
                Chart(
                    "quality_quarantine_by_reason",
                    "入库隔离记录：按业务类型与原因",
                    "table",
                    DQ_ISSUES,
                    columns=("entity_zh", "reason_zh"),
                    metrics=("issue_records_sum",),
                    where=(quarantined,),
                    order_by=(("issue_records_sum", False),),
                ),
            ),
            (
                Chart(
                    "quality_exclusions_by_facility",
                    "数据剔除与标记：机构 × 业务类型 × 原因",
                    "table",
                    DQ_ISSUES,
                    columns=("facility_name", "entity_zh", "reason_zh"),
                    metrics=("issue_rows_sum", "issue_records_sum"),
                    where=(excluded,),
                    order_by=(("issue_rows_sum", False),),
                    width=12,
                ),
            ),
        ),
    )


@cache
def dashboards() -> tuple[Dashboard, ...]:
    return (
        overview(),
        ranking(),
        domain_dashboard("records", "健康档案与家庭医生签约", ("records",)),
        domain_dashboard("chronic", "慢性病管理", ("chronic",)),
        domain_dashboard("elderly", "老年人健康管理", ("elderly",)),
        maternal_child(),
        outcomes(),
        service_volume(),
        data_quality(),
    )
