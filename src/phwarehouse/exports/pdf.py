"""PDF rendering: HTML/CSS through WeasyPrint (A4, Noto Sans CJK SC embedded, charts as PNG)."""

from __future__ import annotations

import base64
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from phwarehouse.exports.content import Table, level_zh
from phwarehouse.exports.data import Row

CSS = """
@page { size: A4; margin: 16mm 14mm 16mm 14mm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #555; } }
@page wide { size: A4 landscape; margin: 12mm 12mm 14mm 12mm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #555; } }
html { font-family: "Noto Sans CJK SC", sans-serif; font-size: 9pt; color: #222; }
h1 { font-size: 20pt; text-align: center; margin-top: 60mm; line-height: 1.5; }
h2 { font-size: 13pt; border-bottom: 1.5pt solid #1f4e79; color: #1f4e79; margin: 6mm 0 3mm; }
h3 { font-size: 10.5pt; margin: 4mm 0 2mm; }
.cover { page-break-after: always; }
.cover table { margin: 18mm auto 0; font-size: 11pt; border: none; width: auto; }
.cover td { border: none; padding: 1.5mm 4mm; }
.cover td.k { font-weight: bold; text-align: right; }
.wide { page: wide; }
.section { page-break-before: always; }
table { border-collapse: collapse; width: 100%; margin-bottom: 3mm; }
th, td { border: 0.5pt solid #999; padding: 0.8mm 1.2mm; }
th { background: #ddebf7; font-weight: bold; text-align: center; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr { page-break-inside: avoid; }
thead { display: table-header-group; }
.met { background: #c6efce; }
.not_met { background: #ffc7ce; }
.note { font-size: 7.5pt; color: #555; margin: 0 0 2mm; }
img.chart { width: 100%; margin: 2mm 0; }
.wide img.chart { width: 82%; display: block; margin: 2mm auto; }
ul.remarks li { margin-bottom: 1.5mm; line-height: 1.5; }
.small { font-size: 7.5pt; }
table.matrix { font-size: 7.5pt; }
td.name { white-space: nowrap; }
"""


def fmt(kind: str, value: Any) -> str:
    if value is None:
        return "—" if kind in ("value", "count", "rank") else ""
    if kind == "flag":
        return "是" if value else "否"
    if kind == "value":
        return f"{Decimal(str(value)):.2f}"
    if kind == "count":
        d = Decimal(str(value))
        return f"{d:,.0f}" if d == d.to_integral_value() else f"{d:,.2f}"
    return escape(str(value))


STATUS_CLASS = {"达标": "met", "未达标": "not_met"}


def table_html(table: Table, small: bool = False, title: bool = True) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h, _ in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for (_, kind), value in zip(table.columns, row, strict=True):
            cls = []
            if kind in ("value", "count", "rank"):
                cls.append("n")
            if kind == "status" and value in STATUS_CLASS:
                cls.append(STATUS_CLASS[value])
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{fmt(kind, value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    parts = [f"<h3>{escape(table.title)}</h3>"] if title else []
    if table.note:
        parts.append(f'<p class="note">{escape(table.note)}</p>')
    parts.append(
        f'<table class="{"small" if small else ""}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    return "".join(parts)


def wide_domain_html(
    indicators: list[Row], rows: list[Row], rank: dict[tuple[str, str], int]
) -> str:
    """Org units (district, townships, facilities) × the domain's indicators: value, rank,
    status colour; † marks a provisional value."""
    codes = [i["indicator_code"] for i in indicators]
    by = {(r["indicator_code"], r["org_unit_code"]): r for r in rows}
    units: dict[str, Row] = {}
    for r in rows:
        if r["indicator_code"] in codes:
            units.setdefault(r["org_unit_code"], r)
    order = {"district": 0, "township": 1, "facility": 2}
    ordered = sorted(units.values(), key=lambda r: (order[r["org_level"]], r["org_unit_code"]))
    head = "<th>层级</th><th>单位</th>" + "".join(
        f"<th>{escape(i['name_zh'])}<br/><span class='small'>目标 "
        f"{fmt('value', _first(rows, i['indicator_code'], 'target_value'))}</span></th>"
        for i in indicators
    )
    body = []
    for u in ordered:
        cells = [
            f"<td class='name'>{escape(level_zh(u))}</td>"
            f"<td class='name'>{escape(u['org_unit_name'])}</td>"
        ]
        for code in codes:
            r = by.get((code, u["org_unit_code"]))
            if r is None:
                cells.append("<td></td>")
                continue
            cls = STATUS_CLASS.get(r["status_zh"], "")
            rk = rank.get((code, u["org_unit_code"]))
            text = fmt("value", r["value"]) + ("†" if r["is_provisional"] else "")
            if rk is not None:
                text += f"<span class='small'>（{rk}）</span>"
            cells.append(f'<td class="n {cls}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        '<p class="note">单元格：指标值（同级排名）；绿色达标，红色未达标；† 暂定值。</p>'
    )


def _first(rows: list[Row], code: str, column: str) -> Any:
    for r in rows:
        if r["indicator_code"] == code and r[column] is not None:
            return r[column]
    return None


def image_html(png: bytes | None, alt: str) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode()
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{data}"/>'


def cover_html(title: str, lines: list[tuple[str, str]]) -> str:
    rows = "".join(f'<tr><td class="k">{escape(k)}</td><td>{escape(v)}</td></tr>' for k, v in lines)
    return f'<div class="cover"><h1>{escape(title)}</h1><table>{rows}</table></div>'


def write_pdf(path: Path, title: str, body_html: str) -> None:
    from weasyprint import HTML

    document = (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"/>'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body_html}</body></html>"
    )
    HTML(string=document).write_pdf(path)
