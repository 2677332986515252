"""The two exports end to end: read the published marts, write XLSX + PDF + manifest into the
period's outbox folder (atomically), optionally e-mail them. Used by `phw export` and the DAGs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from phwarehouse.exports import charts, content, data, delivery, outbox, pdf, scoring, xlsx
from phwarehouse.pipeline.alerts import AlertConfig

Say = Callable[[str], None]

# Appraisal as-of date: the last day of this month of the year (data through October, the
# appraisal itself in November; seed 000_…, 四.(三)). PHW_APPRAISAL_AS_OF_MONTH overrides.
DEFAULT_APPRAISAL_MONTH = 10
# the bulletin's trend chart: one key indicator per domain with a target
TREND_INDICATORS = (
    "EHR_FILING",
    "HTN_STD_MGMT",
    "T2D_STD_MGMT",
    "ELD_HEALTH_MGMT",
    "MAT_EARLY_REG",
    "CH_VACCINATION",
)


@dataclass
class ExportResult:
    folder: Path
    files: list[Path]
    manifest: dict
    sent: dict | None = None


def _quiet(_: str) -> None:
    pass


def latest_bulletin_month(dsn: str) -> tuple[int, int]:
    """The latest month the current publication covers entirely (NotPublished without one)."""
    pub = data.require_publication(data.published_cutoff(dsn), date.min, "bulletin")
    return data.latest_complete_month(pub.data_cutoff_date)


def bulletin_folder(export_dir: Path, year: int, month: int) -> Path:
    return export_dir / "bulletin" / f"{year}-{month:02d}"


def appraisal_folder(export_dir: Path, year: int) -> Path:
    return export_dir / "appraisal" / str(year)


def appraisal_as_of(year: int, env: Mapping[str, str] | None = None) -> date:
    env = os.environ if env is None else env
    month = int(env.get("PHW_APPRAISAL_AS_OF_MONTH") or DEFAULT_APPRAISAL_MONTH)
    return data.month_end(year, month)


class _Steps:
    def __init__(self, say: Say, what: str) -> None:
        self.say, self.what, self.t0 = say, what, time.monotonic()

    def __call__(self, message: str) -> None:
        self.say(f"{self.what}: {message} ({time.monotonic() - self.t0:.1f}s)")

    def read(self, pub, values: int) -> None:
        self(
            f"read publication {pub.publication_id} (data as of "
            f"{pub.data_cutoff_date:%Y-%m-%d}): {values} values"
        )


def build_bulletin(
    dsn: str, export_dir: Path, year: int, month: int, say: Say = _quiet
) -> ExportResult:
    step = _Steps(say, f"bulletin {year}-{month:02d}")
    d = data.load_bulletin(dsn, year, month)
    step.read(d.publication, len(d.values))
    generated_at = datetime.now(UTC)
    title = content.bulletin_title(year, month)
    period_zh = f"{year}年1月—{month}月（累计，截至{d.period_end:%Y-%m-%d}）"
    cover = content.cover_lines("工作简报", period_zh, d.publication, generated_at)
    remarks = content.remarks(d)
    summary = content.summary_table(d)
    domains = content.domain_tables(d)
    trend = content.trend_table(d)
    quality = content.quality_tables(d)
    stem = f"工作简报_{year}-{month:02d}"
    folder = bulletin_folder(export_dir, year, month)
    with outbox.building(folder) as stage:
        sheets = [("指标汇总", summary, True)]
        sheets += [(f"{i['domain_name_zh'][:28]}", t, True) for i, t in domains]
        sheets += [("月度趋势", trend, True)]
        sheets += [(t.title.split("（")[0][:31], t, False) for t in quality]
        xlsx_path = stage / f"{stem}.xlsx"
        xlsx.write_workbook(xlsx_path, title, cover, remarks, sheets)
        step(f"XLSX written ({len(sheets) + 1} sheets)")
        html = _bulletin_html(d, title, cover, remarks, summary, trend, quality)
        step("charts drawn")
        pdf_path = stage / f"{stem}.pdf"
        pdf.write_pdf(pdf_path, title, html)
        step("PDF written")
        files = [xlsx_path, pdf_path]
        outbox.write_manifest(
            stage, "bulletin", f"{year}-{month:02d}", d.publication, generated_at, files
        )
    manifest = outbox.read_manifest(folder)
    step(f"outbox {folder}")
    return ExportResult(folder, [folder / f.name for f in files], manifest)


def _bulletin_html(d, title, cover, remarks, summary, trend, quality) -> str:
    indicators = {i["indicator_code"]: i for i in d.indicators}
    all_rows = d.values + d.annual
    rank = content.rank_map(all_rows, indicators)
    parts = [pdf.cover_html(title, cover)]
    parts.append("<h2>一、要点</h2><ul class='remarks'>")
    parts += [f"<li>{pdf.escape(line)}</li>" for line in remarks]
    parts.append("</ul>")
    parts.append("<h2>二、全区指标汇总</h2>")
    parts.append(pdf.table_html(summary.without("领域", "指标代码", "统计期"), title=False))
    parts.append("<div class='wide'><h2>三、分领域机构与乡镇（街道）情况</h2>")
    domains: dict[str, list] = {}
    for i in d.indicators:
        domains.setdefault(i["domain"], []).append(i)
    for inds in domains.values():
        codes = {i["indicator_code"] for i in inds}
        rows = [r for r in all_rows if r["indicator_code"] in codes]
        if not rows:
            continue
        parts.append(f"<h3>{pdf.escape(inds[0]['domain_name_zh'])}</h3>")
        parts.append(pdf.wide_domain_html(inds, rows, rank))
        with_target = [
            i
            for i in inds
            if any(
                r["indicator_code"] == i["indicator_code"]
                and r["target_value"] is not None
                and r["org_level"] == "facility"
                for r in rows
            )
        ]
        png = charts.facility_bars(rows, with_target)
        parts.append(pdf.image_html(png, f"{inds[0]['domain_name_zh']} 机构对比"))
    parts.append("</div>")
    parts.append("<h2 class='section'>四、重点指标月度趋势</h2>")
    key = [i for i in d.indicators if i["indicator_code"] in TREND_INDICATORS]
    parts.append(pdf.image_html(charts.trend(d.trend, key), "月度趋势"))
    parts.append(pdf.table_html(trend.without("指标代码"), small=True, title=False))
    parts.append("<h2>五、数据质量</h2>")
    if quality:
        parts += [pdf.table_html(t) for t in quality]
    else:
        parts.append("<p>本期无数据质量统计。</p>")
    return "".join(parts)


def build_appraisal(
    dsn: str, export_dir: Path, year: int, as_of: date, say: Say = _quiet
) -> ExportResult:
    step = _Steps(say, f"appraisal {year}")
    d = data.load_appraisal(dsn, year, as_of)
    step.read(d.publication, len(d.values))
    rules = scoring.load_rules()
    scores = scoring.score_facilities(d.values + d.annual, rules)
    step(f"scored {len(scores)} facilities")
    generated_at = datetime.now(UTC)
    title = content.appraisal_title(year)
    period_zh = f"{year}年1月—{as_of.month}月（累计，考核截至{as_of:%Y-%m-%d}）"
    cover = content.cover_lines("年度考核", period_zh, d.publication, generated_at)
    ranking, detail, rule_table, district = content.appraisal_tables(d, scores, rules)
    best = [s for s in scores if s.rank == 1]
    remarks = (
        [
            f"参加考核机构 {len(scores)} 家；第一名："
            + "、".join(f"{s.org_unit_name}（{s.total}分）" for s in best)
            + "。"
        ]
        if best
        else []
    )
    stem = f"年度考核_{year}"
    folder = appraisal_folder(export_dir, year)
    with outbox.building(folder) as stage:
        xlsx_path = stage / f"{stem}.xlsx"
        xlsx.write_workbook(
            xlsx_path,
            title,
            cover,
            remarks,
            [
                ("考核排名", ranking, False),
                ("考核明细", detail, True),
                ("评分规则", rule_table, False),
                ("全区汇总", district, True),
            ],
        )
        step("XLSX written")
        html = pdf.cover_html(title, cover)
        html += "<h2>一、考核得分与排名</h2>" + pdf.table_html(ranking, title=False)
        html += "<h2>二、评分规则</h2>" + pdf.table_html(rule_table, small=True, title=False)
        html += "<div class='wide'><h2>三、机构指标得分</h2>" + _points_matrix(d, scores, rules)
        html += "</div><h2 class='section'>四、全区汇总</h2>"
        html += pdf.table_html(district, title=False)
        pdf_path = stage / f"{stem}.pdf"
        pdf.write_pdf(pdf_path, title, html)
        step("PDF written")
        files = [xlsx_path, pdf_path]
        outbox.write_manifest(stage, "appraisal", str(year), d.publication, generated_at, files)
    manifest = outbox.read_manifest(folder)
    step(f"outbox {folder}")
    return ExportResult(folder, [folder / f.name for f in files], manifest)


def _points_matrix(d, scores, rules) -> str:
    scored = [
        i
        for i in d.indicators
        if rules.get(i["indicator_code"]) and rules[i["indicator_code"]].rule != "not_scored"
    ]
    head = (
        "<th>排名</th><th>机构</th>"
        + "".join(
            f"<th>{pdf.escape(i['name_zh'])}<br/><span class='small'>满分 "
            f"{rules[i['indicator_code']].weight}</span></th>"
            for i in scored
        )
        + "<th>得分</th>"
    )
    body = []
    for s in scores:
        cells = [
            f"<td class='n'>{s.rank or '—'}</td><td class='name'>{pdf.escape(s.org_unit_name)}</td>"
        ]
        for i in scored:
            sc = s.indicators.get(i["indicator_code"])
            if sc is None or sc.points is None:
                cells.append("<td class='n'>不适用</td>")
                continue
            cls = pdf.STATUS_CLASS.get(sc.status, "")
            cells.append(
                f"<td class='n {cls}'>{sc.points:.2f}<br/><span class='small'>"
                f"{pdf.fmt('value', sc.value)}/{pdf.fmt('value', sc.comparison_target)}</span></td>"
            )
        cells.append(f"<td class='n'>{pdf.fmt('value', s.total)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table class='matrix'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
        "<p class='note'>单元格：得分，下方为指标值/考核目标；绿色达标，红色未达标。</p>"
    )


def deliver(
    result: ExportResult, subject: str, env: Mapping[str, str], force: bool, say: Say = _quiet
) -> dict | None:
    """E-mail the period's files unless already delivered (force: send again)."""
    previous = delivery.already_sent(result.folder)
    if previous and not force:
        say(
            f"already sent {previous['sent_at']} to {', '.join(previous['to'])}; not sending "
            "again (--resend to force)"
        )
        return None
    body = (
        f"{subject}\n\n发布批次 {result.manifest['publication_id']}，数据截至 "
        f"{result.manifest['data_cutoff_date']}。附件：\n"
        + "\n".join(f"  {f['file']}  SHA-256 {f['sha256']}" for f in result.manifest["files"])
    )
    record = delivery.send(
        AlertConfig.from_env(env),
        delivery.recipients(env),
        subject,
        body,
        result.files,
        result.folder,
        result.manifest,
    )
    say(f"sent to {', '.join(record['to'])}")
    result.sent = record
    return record
