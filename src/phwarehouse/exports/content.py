"""What the bulletin and the appraisal say, independent of the format: tables as rows of cells
(one meaning per column name), ranks and the generated remarks. XLSX and PDF render these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from phwarehouse.exports.data import AppraisalData, BulletinData, Row
from phwarehouse.exports.scoring import FacilityScore, Rule

DISTRICT_NAME = "惠济区"
LEVEL_ZH = {"district": "区", "township": "乡镇（街道）", "facility": "机构"}


@dataclass
class Table:
    """A titled table: `columns` are (header, kind) with kind in text / count / value / rank /
    flag / status; rows hold raw cells (Decimal, int, str, bool, None)."""

    title: str
    columns: list[tuple[str, str]]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""

    def without(self, *headers: str) -> Table:
        """The same table without the named columns (the PDF drops what a page cannot hold)."""
        keep = [i for i, (h, _) in enumerate(self.columns) if h not in headers]
        return Table(
            self.title,
            [self.columns[i] for i in keep],
            [[row[i] for i in keep] for row in self.rows],
            self.note,
        )


def bulletin_title(year: int, month: int) -> str:
    return f"{DISTRICT_NAME}基本公共卫生服务工作简报（{year}年第{month}期）"


def appraisal_title(year: int) -> str:
    return f"{DISTRICT_NAME}{year}年度基本公共卫生服务考核"


def cover_lines(kind: str, period_zh: str, pub, generated_at: datetime) -> list[tuple[str, str]]:
    return [
        ("地区", DISTRICT_NAME),
        ("统计周期", period_zh),
        ("数据截至", f"{pub.data_cutoff_date:%Y-%m-%d}"),
        ("发布批次", pub.publication_id),
        ("发布时间", f"{pub.published_at:%Y-%m-%d %H:%M %Z}".strip()),
        ("生成时间", f"{generated_at:%Y-%m-%d %H:%M:%S %Z}".strip()),
        ("文件", kind),
    ]


def level_zh(row: Row) -> str:
    """The org level's Chinese label without the dashboards' sort prefix ('2 乡镇（街道）')."""
    label = row.get("org_level_zh") or LEVEL_ZH.get(row["org_level"], row["org_level"])
    head, _, tail = label.partition(" ")
    return tail if head.isdigit() and tail else label


def ranks(rows: list[Row], higher_is_better: bool) -> dict[str, int]:
    """Competition ranks (1, 2, 2, 4) of rows with a value; org_unit_code → rank."""
    valued = [r for r in rows if r["value"] is not None]
    valued.sort(key=lambda r: r["value"], reverse=higher_is_better)
    out: dict[str, int] = {}
    for i, r in enumerate(valued):
        if i and valued[i - 1]["value"] == r["value"]:
            out[r["org_unit_code"]] = out[valued[i - 1]["org_unit_code"]]
        else:
            out[r["org_unit_code"]] = i + 1
    return out


def rank_map(rows: list[Row], indicators: dict[str, Row]) -> dict[tuple[str, str], int]:
    """(indicator_code, org_unit_code) → rank among the org units of the same level."""
    out: dict[tuple[str, str], int] = {}
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        if r["org_level"] in ("township", "facility"):
            groups.setdefault((r["indicator_code"], r["org_level"]), []).append(r)
    for (code, _), group in groups.items():
        higher = indicators[code]["direction"] != "lower_is_better"
        for org, rank in ranks(group, higher).items():
            out[(code, org)] = rank
    return out


SUMMARY_COLUMNS = [
    ("领域", "text"),
    ("指标代码", "text"),
    ("指标名称", "text"),
    ("单位", "text"),
    ("统计期", "text"),
    ("分子", "count"),
    ("分母", "count"),
    ("指标值", "value"),
    ("目标值", "value"),
    ("序时进度", "value"),
    ("状态", "status"),
    ("达到序时进度", "flag"),
    ("暂定", "flag"),
]

DETAIL_COLUMNS = [
    ("指标代码", "text"),
    ("指标名称", "text"),
    ("层级", "text"),
    ("乡镇（街道）", "text"),
    ("机构", "text"),
    ("机构代码", "text"),
    ("分子", "count"),
    ("分母", "count"),
    ("指标值", "value"),
    ("目标值", "value"),
    ("序时进度", "value"),
    ("状态", "status"),
    ("排名", "rank"),
    ("暂定", "flag"),
]


def summary_table(data: BulletinData) -> Table:
    rows = []
    for r in data.summary_rows():
        rows.append(
            [
                r["domain_name_zh"],
                r["indicator_code"],
                r["indicator_name_zh"],
                r["unit"],
                r["period_label_zh"],
                r["numerator"],
                r["denominator"],
                r["value"],
                r["target_value"],
                r["expected_to_date"],
                r["status_zh"],
                r["on_track"],
                r["is_provisional"],
            ]
        )
    return Table(
        "指标汇总（全区）",
        SUMMARY_COLUMNS,
        rows,
        "月度指标为当年1月至本月末累计；结局指标为年度指标（截至数据日期）。暂定：数据仍可能补报。",
    )


def domain_tables(data: BulletinData) -> list[tuple[Row, Table]]:
    """One long table per domain: every indicator × org unit (district, townships, facilities)."""
    indicators = {i["indicator_code"]: i for i in data.indicators}
    all_rows = data.values + data.annual
    rank = rank_map(all_rows, indicators)
    domains: dict[str, list[Row]] = {}
    for i in data.indicators:
        domains.setdefault(i["domain"], []).append(i)
    out = []
    for inds in domains.values():
        codes = {i["indicator_code"] for i in inds}
        rows = []
        for r in all_rows:
            if r["indicator_code"] not in codes:
                continue
            rows.append(
                [
                    r["indicator_code"],
                    r["indicator_name_zh"],
                    level_zh(r),
                    r["township_name"] if r["org_level"] != "district" else None,
                    r["facility_name"],
                    r["org_unit_code"],
                    r["numerator"],
                    r["denominator"],
                    r["value"],
                    r["target_value"],
                    r["expected_to_date"],
                    r["status_zh"],
                    rank.get((r["indicator_code"], r["org_unit_code"])),
                    r["is_provisional"],
                ]
            )
        if rows:
            out.append((inds[0], Table(inds[0]["domain_name_zh"], DETAIL_COLUMNS, rows)))
    return out


def trend_table(data: BulletinData) -> Table:
    months = sorted({r["period_key"] for r in data.trend})
    by = {(r["indicator_code"], r["period_key"]): r["value"] for r in data.trend}
    cols = [("指标代码", "text"), ("指标名称", "text")] + [(m, "value") for m in months]
    rows = []
    for i in data.indicators:
        if any((i["indicator_code"], m) in by for m in months):
            rows.append(
                [i["indicator_code"], i["name_zh"]]
                + [by.get((i["indicator_code"], m)) for m in months]
            )
    return Table("月度趋势（全区，当年累计）", cols, rows)


def quality_tables(data: BulletinData) -> list[Table]:
    out = []
    if data.completeness:
        rows = [
            [
                r["facility_code"],
                r["facility_name"],
                r["due_date"].isoformat() if r["due_date"] else None,
                r["is_received"],
                r["submitted_on"].isoformat() if r["submitted_on"] else None,
                r["is_on_time"],
                r["days_late"],
                r["reports_received"],
            ]
            for r in data.completeness
        ]
        received = sum(1 for r in data.completeness if r["is_received"])
        on_time = sum(1 for r in data.completeness if r["is_on_time"])
        n = len(data.completeness)
        out.append(
            Table(
                "报送完整性与及时性（本月）",
                [
                    ("机构代码", "text"),
                    ("机构", "text"),
                    ("截止日期", "text"),
                    ("已报送", "flag"),
                    ("报送日期", "text"),
                    ("按时", "flag"),
                    ("逾期天数", "count"),
                    ("报送份数", "count"),
                ],
                rows,
                f"应报 {n} 家，已报 {received} 家，按时 {on_time} 家。",
            )
        )
    if data.exclusions:
        names = {r["org_unit_code"]: r["org_unit_name"] for r in data.values}
        out.append(
            Table(
                "剔除与标记记录数（按机构）",
                [("机构代码", "text"), ("机构", "text"), ("本月", "count"), ("本年累计", "count")],
                [
                    [
                        r["facility_code"],
                        names.get(r["facility_code"], "（未知机构）"),
                        r["records_month"] or 0,
                        r["records_ytd"],
                    ]
                    for r in data.exclusions
                ],
                "按记录日期计；规则见指标说明第6节。",
            )
        )
    if data.quarantined:
        out.append(
            Table(
                "入库隔离行数（按数据类别）",
                [("数据类别", "text"), ("本月", "count"), ("本年累计", "count")],
                [[r["entity"], r["rows_month"] or 0, r["rows_ytd"]] for r in data.quarantined],
                "按接收日期计。",
            )
        )
    return out


def _fmt(value: Decimal | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:.2f}{unit}"


def remarks(data: BulletinData, top: int = 3) -> list[str]:
    """Generated remarks: facilities below 序时进度 by indicator; the largest movers since the
    previous month (same assessment year, facility level)."""
    lines = []
    summary = data.summary_rows()
    met = [r for r in summary if r["status"] == "met"]
    not_met = [r for r in summary if r["status"] == "not_met"]
    lines.append(
        f"全区有目标的 {len(met) + len(not_met)} 项指标中，达标 {len(met)} 项，"
        f"未达标 {len(not_met)} 项"
        + ("：" + "、".join(r["indicator_name_zh"] for r in not_met) if not_met else "")
        + "。"
    )
    behind: dict[str, list[Row]] = {}
    for r in data.values:
        if r["org_level"] == "facility" and r["on_track"] is False:
            behind.setdefault(r["indicator_code"], []).append(r)
    for i in data.indicators:
        rows = behind.get(i["indicator_code"])
        if rows:
            names = "、".join(f"{r['org_unit_name']}（{_fmt(r['value'])}）" for r in rows)
            lines.append(
                f"{i['name_zh']}低于序时进度（{_fmt(rows[0]['expected_to_date'])}{i['unit']}）"
                f"的机构：{names}。"
            )
    if not any(behind.values()):
        lines.append("各机构均达到序时进度。")
    prev = {(r["indicator_code"], r["org_unit_code"]): r["value"] for r in data.previous}
    moves = []
    for r in data.values:
        before = prev.get((r["indicator_code"], r["org_unit_code"]))
        if r["org_level"] == "facility" and r["value"] is not None and before is not None:
            moves.append((r["value"] - before, before, r))
    if not data.previous:
        lines.append("本期为考核年度首月，不与上月比较。")
    elif moves:
        moves.sort(key=lambda m: m[0])
        ups = [m for m in reversed(moves) if m[0] > 0][:top]
        downs = [m for m in moves if m[0] < 0][:top]
        for label, chosen in (("上升", ups), ("下降", downs)):
            if chosen:
                parts = "；".join(
                    f"{r['org_unit_name']}{r['indicator_name_zh']}由{_fmt(b)}{r['unit']}"
                    f"{'升' if d > 0 else '降'}至{_fmt(r['value'])}{r['unit']}"
                    for d, b, r in chosen
                )
                lines.append(f"较上月{label}最多：{parts}。")
    provisional = sum(1 for r in summary if r["is_provisional"])
    if provisional:
        lines.append(f"{provisional} 项全区指标为暂定值（†），数据仍可能补报。")
    return lines


# --- appraisal -------------------------------------------------------------------------------


def appraisal_tables(
    data: AppraisalData, scores: list[FacilityScore], rules: dict[str, Rule]
) -> tuple[Table, Table, Table, Table]:
    names = {i["indicator_code"]: i for i in data.indicators}
    ranking = Table(
        "考核得分与排名",
        [
            ("排名", "rank"),
            ("机构代码", "text"),
            ("机构", "text"),
            ("乡镇（街道）", "text"),
            ("得分", "value"),
            ("计分指标得分", "value"),
            ("适用满分", "value"),
        ],
        [
            [
                s.rank,
                s.org_unit_code,
                s.org_unit_name,
                s.township_name,
                s.total,
                s.points,
                s.max_points,
            ]
            for s in scores
        ],
        "得分 = 100 × 计分指标得分 ÷ 适用满分；规则见“评分规则”。",
    )
    detail_rows = []
    for s in scores:
        for code in names:
            sc = s.indicators.get(code)
            if sc is None:
                continue
            detail_rows.append(
                [
                    s.org_unit_code,
                    s.org_unit_name,
                    code,
                    names[code]["name_zh"],
                    sc.value,
                    sc.comparator,
                    sc.comparison_target,
                    sc.weight,
                    sc.points,
                    sc.status,
                ]
            )
    detail = Table(
        "考核明细（机构 × 指标）",
        [
            ("机构代码", "text"),
            ("机构", "text"),
            ("指标代码", "text"),
            ("指标名称", "text"),
            ("指标值", "value"),
            ("比较", "text"),
            ("考核目标", "value"),
            ("满分", "value"),
            ("得分", "value"),
            ("状态", "status"),
        ],
        detail_rows,
        "考核目标：累计类指标在年末前为序时进度，其余为年度目标。",
    )
    rule_rows = [
        [
            code,
            names[code]["name_zh"] if code in names else code,
            r.weight,
            "按目标比例计分" if r.rule == "target_proportional" else "不计分",
            r.note,
        ]
        for code, r in rules.items()
    ]
    rule_table = Table(
        "评分规则",
        [
            ("指标代码", "text"),
            ("指标名称", "text"),
            ("满分", "value"),
            ("规则", "text"),
            ("说明", "text"),
        ],
        rule_rows,
        "达到考核目标得满分；低于目标按比例得分（≥类：指标值÷目标；≤类：目标÷指标值）；"
        "无考核目标或机构无数据（分母为0）的指标不适用，不计入满分。",
    )
    district = Table(
        "全区汇总",
        [
            ("指标代码", "text"),
            ("指标名称", "text"),
            ("统计期", "text"),
            ("指标值", "value"),
            ("目标值", "value"),
            ("序时进度", "value"),
            ("状态", "status"),
            ("暂定", "flag"),
        ],
        [
            [
                r["indicator_code"],
                r["indicator_name_zh"],
                r["period_label_zh"],
                r["value"],
                r["target_value"],
                r["expected_to_date"],
                r["status_zh"],
                r["is_provisional"],
            ]
            for r in data.values + data.annual
            if r["org_level"] == "district"
        ],
    )
    return ranking, detail, rule_table, district
