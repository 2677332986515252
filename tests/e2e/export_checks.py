"""Checks of the exports against the warehouse they were made from, as a reader would check
them: every number of the XLSX read back with openpyxl and compared with `marts`, the PDF's
text (pdftotext) searched for every facility name and the district's values."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import psycopg
from openpyxl import load_workbook
from psycopg.rows import dict_row

HEADER_ROW = 3
STATUS_ZH = {"met": "达标", "not_met": "未达标"}
FLAG = {True: "是", False: "否", None: None}


def sheet_rows(ws) -> list[dict]:
    headers = [c.value for c in ws[HEADER_ROW]]
    return [
        dict(zip(headers, row, strict=True))
        for row in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True)
    ]


def same(cell, value) -> bool:
    """A spreadsheet number equals the warehouse's numeric (both empty counts as equal)."""
    if value is None:
        return cell is None
    return cell is not None and Decimal(str(cell)) == Decimal(str(value))


def mart_values(dsn: str, period_keys: list[str]) -> dict[tuple[str, str], dict]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(
            "select f.*, i.direction from marts.fct_indicator_values as f"
            " join marts.dim_indicator as i using (indicator_code)"
            " where f.period_key = any(%s)",
            (period_keys,),
        ).fetchall()
    return {(r["indicator_code"], r["org_unit_code"], r["period_key"]): r for r in rows}


def competition_rank(row: dict, peers: list[dict]) -> int | None:
    """1 + the number of same-level peers with a strictly better value."""
    if row["value"] is None:
        return None
    higher = row["direction"] != "lower_is_better"
    better = [
        p
        for p in peers
        if p["value"] is not None
        and (p["value"] > row["value"] if higher else p["value"] < row["value"])
    ]
    return 1 + len(better)


def check_bulletin_xlsx(path: Path, dsn: str, month_key: str, year_key: str) -> int:
    """Every number of every sheet equals the warehouse; returns the number of cells compared."""
    marts = mart_values(dsn, [month_key, year_key])
    monthly_codes = {k[0] for k in marts if k[2] == month_key}
    key_of = {}
    for (code, org, period), r in marts.items():
        if period == month_key or (period == year_key and code not in monthly_codes):
            key_of[(code, org)] = r
    wb = load_workbook(path)
    names = wb.sheetnames
    assert names[:2] == ["封面", "指标汇总"], names
    compared = 0
    domain_sheets = names[2 : names.index("月度趋势")]
    assert len(domain_sheets) == 6, names
    seen = set()
    for name in domain_sheets:
        for row in sheet_rows(wb[name]):
            r = key_of[(row["指标代码"], row["机构代码"])]
            seen.add((row["指标代码"], row["机构代码"]))
            for header, column in (
                ("分子", "numerator"),
                ("分母", "denominator"),
                ("指标值", "value"),
                ("目标值", "target_value"),
                ("序时进度", "expected_to_date"),
            ):
                assert same(row[header], r[column]), (name, row, column, r[column])
                compared += 1
            assert row["状态"] in (STATUS_ZH.get(r["status"]), "无目标", "无数据"), row
            assert row["暂定"] == FLAG[r["is_provisional"]], row
            if r["org_level"] in ("township", "facility"):
                peers = [
                    p
                    for p in key_of.values()
                    if p["indicator_code"] == r["indicator_code"]
                    and p["org_level"] == r["org_level"]
                ]
                assert row["排名"] == competition_rank(r, peers), row
                compared += 1
    assert seen == set(key_of), set(key_of) ^ seen  # every mart row of the period, once
    summary = sheet_rows(wb["指标汇总"])
    district = {k[0]: r for k, r in key_of.items() if r["org_level"] == "district"}
    assert [row["指标代码"] for row in summary] == sorted(
        district, key=lambda c: [row["指标代码"] for row in summary].index(c)
    )
    assert {row["指标代码"] for row in summary} == set(district)
    for row in summary:
        r = district[row["指标代码"]]
        for header, column in (
            ("分子", "numerator"),
            ("分母", "denominator"),
            ("指标值", "value"),
            ("目标值", "target_value"),
        ):
            assert same(row[header], r[column]), (row, column)
            compared += 1
    year, month = (int(x) for x in month_key.split("-"))
    trend = marts_trend(dsn, year, month)
    for row in sheet_rows(wb["月度趋势"]):
        for m in range(1, month + 1):
            key = f"{year}-{m:02d}"
            assert same(row[key], trend.get((row["指标代码"], key))), (row, key)
            compared += 1
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        completeness = conn.execute(
            "select * from marts.fct_reporting_completeness where to_char(report_month,"
            " 'YYYY-MM') = %s",
            (month_key,),
        ).fetchall()
    rows = {r["机构代码"]: r for r in sheet_rows(wb["报送完整性与及时性"])}
    assert set(rows) == {c["facility_code"] for c in completeness}
    for c in completeness:
        row = rows[c["facility_code"]]
        assert row["已报送"] == FLAG[c["is_received"]] and row["按时"] == FLAG[c["is_on_time"]]
        assert same(row["逾期天数"], c["days_late"]) and same(
            row["报送份数"], c["reports_received"]
        )
        compared += 2
    return compared


def marts_trend(dsn: str, year: int, month: int) -> dict[tuple[str, str], Decimal]:
    keys = [f"{year}-{m:02d}" for m in range(1, month + 1)]
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select indicator_code, period_key, value from marts.fct_indicator_values"
            " where org_level = 'district' and period_key = any(%s)",
            (keys,),
        ).fetchall()
    return {(c, k): v for c, k, v in rows}


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def check_bulletin_pdf(path: Path, dsn: str, month_key: str, year_key: str, pub_id: str) -> None:
    text = pdf_text(path)
    flat = "".join(text.split())  # table cells may wrap
    with psycopg.connect(dsn) as conn:
        facilities = [
            n
            for (n,) in conn.execute(
                "select org_unit_name from marts.dim_org_unit where org_level = 'facility'"
                " and org_unit_code in (select org_unit_code from marts.fct_indicator_values"
                " where period_key = %s)",
                (month_key,),
            )
        ]
    assert facilities
    missing = [n for n in facilities if n not in flat]
    assert not missing, missing
    marts = mart_values(dsn, [month_key, year_key])
    monthly = {k[0] for k in marts if k[2] == month_key}
    district = [
        r
        for (code, _, period), r in marts.items()
        if r["org_level"] == "district"
        and (period == month_key or (period == year_key and code not in monthly))
    ]
    assert len(district) >= 21
    for r in district:
        if r["value"] is not None:
            assert f"{r['value']:.2f}" in flat, (r["indicator_code"], r["value"])
    assert pub_id in flat
    assert "数据截至" in flat
    check_pdf_fonts_and_paper(path)


def check_pdf_fonts_and_paper(path: Path) -> None:
    """Every font is embedded and is Noto Sans CJK; every page is A4 (portrait or landscape)."""
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    rows = [line.split() for line in fonts.stdout.splitlines()[2:] if line.strip()]
    assert rows and all("Noto-Sans-CJK" in r[0] and r[-5] == "yes" for r in rows), fonts.stdout
    info = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "999", str(path)], capture_output=True, text=True, check=True
    ).stdout
    sizes = {
        line.split(":", 1)[1].split("pts")[0].strip()
        for line in info.splitlines()
        if line.startswith("Page") and "size:" in line
    }
    assert sizes <= {"595.276 x 841.89", "841.89 x 595.276"}, sizes


def check_appraisal_xlsx(path: Path, dsn: str, period_key: str) -> None:
    wb = load_workbook(path)
    assert wb.sheetnames == ["封面", "考核排名", "考核明细", "评分规则", "全区汇总"]
    year_key = period_key[:4]
    marts = mart_values(dsn, [period_key, year_key])
    detail = sheet_rows(wb["考核明细"])
    assert detail
    by_facility: dict[str, list[dict]] = {}
    for row in detail:
        key = (row["指标代码"], row["机构代码"])
        r = marts.get((*key, period_key)) or marts[(*key, year_key)]
        assert r["org_level"] == "facility"
        assert same(row["指标值"], r["value"]), row
        by_facility.setdefault(row["机构代码"], []).append(row)
    ranking = sheet_rows(wb["考核排名"])
    assert {r["机构代码"] for r in ranking} == set(by_facility)
    totals = []
    for r in ranking:
        rows = [x for x in by_facility[r["机构代码"]] if x["得分"] is not None]
        points = sum(Decimal(str(x["得分"])) for x in rows)
        weights = sum(Decimal(str(x["满分"])) for x in rows)
        assert same(r["计分指标得分"], points) and same(r["适用满分"], weights), r
        expected = (100 * points / weights).quantize(Decimal("0.01"))
        assert same(r["得分"], expected), (r, expected)
        totals.append(expected)
    assert totals == sorted(totals, reverse=True)
    assert ranking[0]["排名"] == 1
