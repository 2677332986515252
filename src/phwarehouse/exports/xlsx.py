"""XLSX rendering: one sheet per section, Chinese headers, number formats, frozen header rows,
status colours, A4 print setup. Numbers are written as numbers (never as text)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from phwarehouse.exports.content import Table
from phwarehouse.exports.data import as_number

HEADER_ROW = 3  # row 1: title, row 2: note, row 3: headers, data from row 4
FONT = "Noto Sans CJK SC"
FILL = {
    "达标": PatternFill("solid", fgColor="C6EFCE"),
    "未达标": PatternFill("solid", fgColor="FFC7CE"),
}
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
THIN = Side(style="thin", color="999999")
WIDTH = {"text": 16, "count": 11, "value": 10, "rank": 6, "flag": 7, "status": 8}


def _cell_value(kind: str, value: Any) -> Any:
    if kind == "flag":
        return None if value is None else ("是" if value else "否")
    if isinstance(value, Decimal):
        return as_number(value)
    return value


def _number_format(kind: str, value: Any) -> str | None:
    if kind == "value":
        return "0.00"
    if kind == "count":
        if isinstance(value, Decimal) and value != value.to_integral_value():
            return "#,##0.00"
        return "#,##0"
    if kind == "rank":
        return "0"
    return None


def add_table_sheet(wb: Workbook, name: str, table: Table, landscape: bool = False) -> Worksheet:
    ws = wb.create_sheet(name[:31])
    ws.cell(1, 1, table.title).font = Font(name=FONT, bold=True, size=13)
    if table.note:
        ws.cell(2, 1, table.note).font = Font(name=FONT, size=9, italic=True)
    for c, (header, kind) in enumerate(table.columns, start=1):
        cell = ws.cell(HEADER_ROW, c, header)
        cell.font = Font(name=FONT, bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
        width = max(WIDTH[kind], min(len(header) * 2 + 2, 30))
        ws.column_dimensions[get_column_letter(c)].width = width
    for r, row in enumerate(table.rows, start=HEADER_ROW + 1):
        for c, ((_, kind), value) in enumerate(zip(table.columns, row, strict=True), start=1):
            cell = ws.cell(r, c, _cell_value(kind, value))
            cell.font = Font(name=FONT)
            cell.border = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
            fmt = _number_format(kind, value)
            if fmt:
                cell.number_format = fmt
            if kind == "status" and value in FILL:
                cell.fill = FILL[value]
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 1)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    if table.rows:
        ws.auto_filter.ref = (
            f"A{HEADER_ROW}:{get_column_letter(len(table.columns))}{HEADER_ROW + len(table.rows)}"
        )
    _print_setup(ws, landscape)
    return ws


def _print_setup(ws: Worksheet, landscape: bool) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4


def add_cover(wb: Workbook, title: str, lines: list[tuple[str, str]], remarks: list[str]) -> None:
    ws = wb.active
    ws.title = "封面"
    ws.cell(1, 1, title).font = Font(name=FONT, bold=True, size=16)
    for i, (label, value) in enumerate(lines, start=3):
        ws.cell(i, 1, label).font = Font(name=FONT, bold=True)
        ws.cell(i, 2, value).font = Font(name=FONT)
    if remarks:
        start = len(lines) + 4
        ws.cell(start, 1, "要点").font = Font(name=FONT, bold=True, size=13)
        for j, line in enumerate(remarks, start=start + 1):
            ws.merge_cells(start_row=j, start_column=1, end_row=j, end_column=2)
            cell = ws.cell(j, 1, f"{j - start}. {line}")
            cell.font = Font(name=FONT)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            ws.row_dimensions[j].height = 15 * (1 + len(line) // 36)
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 60
    _print_setup(ws, False)


def write_workbook(
    path: Path,
    title: str,
    cover: list[tuple[str, str]],
    remarks: list[str],
    sheets: list[tuple[str, Table, bool]],
) -> None:
    wb = Workbook()
    add_cover(wb, title, cover, remarks)
    for name, table, landscape in sheets:
        add_table_sheet(wb, name, table, landscape)
    wb.properties.title = title
    wb.properties.creator = "phwarehouse"
    wb.save(path)
