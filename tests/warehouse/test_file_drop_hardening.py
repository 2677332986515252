"""Bad drop files (issue #9, items 3 and 4), each reproduced before the fix.

Before: one bad file stopped all file ingestion with an error that did not name it (a GBK CSV,
an empty or truncated XLSX, wrong headers, a CSV row with extra columns), and some changes went
through silently (a renamed XLSX column dropped, formula cells read as NULL, a row of an unknown
township counted, a population CSV cut at a row boundary or lacking a township accepted).
Now every file is processed on its own: a bad one is moved to drops/quarantine/ with an audit
row naming it and the reason, the good files of the same folder load, and counts reconcile.
Each test drops a bad file among good ones, built from a small simulated district.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import threading
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from openpyxl import load_workbook
from tests.conftest import wipe_raw

from phwarehouse.ingestion import file_drops, raw_store
from phwarehouse.ingestion.contracts import contract_for
from phwarehouse.ingestion.raw_store import ValidRecord
from phwarehouse.ingestion.validation import validate
from phwarehouse.platform.dirty import DirtyConfig
from phwarehouse.platform.generate import GenerateConfig, generate
from phwarehouse.platform.xlsx_export import export_month

pytestmark = pytest.mark.warehouse

MONTH = "2026-10"
GOOD_XLSX = ("vaccinations", "health_exams")
CELLS_PER_YEAR = 8 * 2 * 101  # townships x sexes x ages 0..100


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("district")
    generate(
        GenerateConfig(
            seed=5,
            residents=600,
            start_year=2025,
            as_of="2026-11-22",
            out=out,
            dirty=DirtyConfig.clean(),
            workers=1,
        )
    )
    export_month(out, MONTH, out / "xlsx", [*GOOD_XLSX, "htn_followups"])
    return out


@pytest.fixture
def dsn(district: Path, warehouse_settings, admin_dsn: str, loader_dsn: str) -> str:
    """An empty raw schema holding only the district's org units (as the API feed loads them)."""
    wipe_raw(admin_dsn)
    contract = contract_for("org_units")
    lines = (district / "jsonl" / "org_units.jsonl").read_text(encoding="utf-8").splitlines()
    valid = [r for r in (validate(contract, line) for line in lines) if isinstance(r, ValidRecord)]
    assert valid
    with psycopg.connect(loader_dsn) as conn:
        raw_store.ensure_ops_tables(conn)
        raw_store.ensure_entity_table(conn, "org_units")
        raw_store.load_records(conn, "org_units", "setup", datetime.now(UTC), valid, [])
        conn.commit()
    return loader_dsn


def population_text(district: Path, year: int) -> str:
    return (district / "population" / f"population_{year}.csv").read_text(encoding="utf-8-sig")


def write_population(drops: Path, name: str, text: str, encoding: str = "utf-8-sig") -> Path:
    path = drops / "population" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def good_drops(tmp_path: Path, district: Path) -> Path:
    """A drop folder with good files: the 2025 population CSV and two monthly XLSX exports."""
    drops = tmp_path / "drops"
    write_population(drops, "population_2025.csv", population_text(district, 2025))
    (drops / "platform" / MONTH).mkdir(parents=True)
    for entity in GOOD_XLSX:
        name = f"{entity}_{MONTH}.xlsx"
        shutil.copy2(district / "xlsx" / name, drops / "platform" / MONTH / name)
    return drops


def bad_population(tmp_path: Path, district: Path, edit) -> tuple[Path, Path]:
    """Good drops plus the 2026 population CSV with its lines edited by `edit(lines)`."""
    drops = good_drops(tmp_path, district)
    lines = edit(population_text(district, 2026).splitlines())
    return drops, write_population(drops, "population_2026.csv", "\n".join(lines) + "\n")


def htn_workbook(district: Path, drops: Path, edit) -> Path:
    """The month's htn_followups export, edited by `edit(worksheet)`, into the drop folder."""
    wb = load_workbook(district / "xlsx" / f"htn_followups_{MONTH}.xlsx")
    edit(wb.worksheets[0])
    path = drops / "platform" / MONTH / f"htn_followups_{MONTH}.xlsx"
    wb.save(path)
    return path


def column_of(ws, label: str) -> int:
    return next(c.column for c in ws[1] if c.value == label)


def audit_rows(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select batch_id, entity, source, status, received, loaded, quarantined, duplicates,"
            " conflicts, error from ops.load_audit where batch_id <> 'setup' order by batch_id"
        ).fetchall()


def assert_good_files_loaded(results, dsn: str, drops: Path) -> None:
    """The good files of the folder loaded, and every count reconciles, in results and audit."""
    by_name = {r.path.name: r for r in results}
    for name in ("population_2025.csv", *(f"{e}_{MONTH}.xlsx" for e in GOOD_XLSX)):
        assert by_name[name].status == "success", by_name[name]
        assert by_name[name].counts.received > 0 and by_name[name].counts.loaded > 0, name
    for r in results:
        assert r.counts.reconciles, (r.path.name, r.counts)
    for row in audit_rows(dsn):
        _, _, _, status, received, loaded, quarantined, duplicates, conflicts, _ = row
        assert received == loaded + quarantined + duplicates + conflicts, row
        if status != "success":
            assert received == 0, row
    with psycopg.connect(dsn) as conn:
        n = conn.execute("select count(*) from raw.stat_population where year = 2025").fetchone()
        assert n[0] == CELLS_PER_YEAR
        for entity in GOOD_XLSX:
            assert conn.execute(f"select count(*) from raw.{entity}").fetchone()[0] > 0, entity


def assert_set_aside(results, dsn: str, drops: Path, bad: Path, *reason: str) -> str:
    """The bad file was moved to quarantine/<relative path> (0600 in 0700 folders) with an
    audit row 'rejected' naming it and the reason; returns the reason."""
    rel = bad.relative_to(drops)
    result = next(r for r in results if r.path == bad)
    assert result.status == "rejected", result
    target = drops / "quarantine" / rel
    assert result.moved_to == target
    assert target.is_file() and not bad.exists()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    folder = target.parent
    while folder != drops:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        folder = folder.parent
    reason_file = target.with_name(target.name + ".reason.txt")
    assert stat.S_IMODE(reason_file.stat().st_mode) == 0o600
    rows = [r for r in audit_rows(dsn) if r[2] == f"file:{bad.name}"]
    assert len(rows) == 1, rows
    status, error = rows[0][3], rows[0][9]
    assert status == "rejected"
    assert rel.as_posix() in error and "quarantine/" in error
    for words in reason:
        assert words in error, (words, error)
        assert words in result.reason
        assert words in reason_file.read_text(encoding="utf-8")
    return error


def ingest(dsn: str, drops: Path, prefix: str = "run1") -> list[file_drops.FileResult]:
    return file_drops.ingest_drop_folder(dsn, drops, prefix)


# --- encodings -----------------------------------------------------------------------------------


def test_gbk_population_csv_is_decoded_and_noted(dsn, district, tmp_path) -> None:
    """Before: UnicodeDecodeError at position 0 stopped every file."""
    drops = good_drops(tmp_path, district)
    gbk = write_population(drops, "population_2026.csv", population_text(district, 2026), "gbk")
    results = ingest(dsn, drops)
    assert_good_files_loaded(results, dsn, drops)
    result = next(r for r in results if r.path == gbk)
    assert result.status == "success" and result.counts.loaded == CELLS_PER_YEAR
    assert any("GB18030" in n for n in result.notes)
    with psycopg.connect(dsn) as conn:
        names = conn.execute(
            "select distinct township_name from raw.stat_population where year = 2026"
        ).fetchall()
        error = conn.execute(
            "select error from ops.load_audit where source = 'file:population_2026.csv'"
        ).fetchone()[0]
    assert ("长兴路街道",) in names
    assert "note: decoded as GB18030" in error


def test_undecodable_csv_is_set_aside(dsn, district, tmp_path) -> None:
    drops = good_drops(tmp_path, district)
    bad = write_population(drops, "population_2026.csv", population_text(district, 2026), "utf-16")
    results = ingest(dsn, drops)
    assert_set_aside(results, dsn, drops, bad, "not UTF-8", "not GB18030")
    assert_good_files_loaded(results, dsn, drops)


# --- unreadable workbooks ----------------------------------------------------------------------


def test_empty_xlsx_is_set_aside(dsn, district, tmp_path) -> None:
    """Before: BadZipFile stopped every file."""
    drops = good_drops(tmp_path, district)
    bad = drops / "platform" / MONTH / f"htn_followups_{MONTH}.xlsx"
    bad.write_bytes(b"")
    results = ingest(dsn, drops)
    assert_set_aside(results, dsn, drops, bad, "not a readable XLSX workbook", "BadZipFile")
    assert_good_files_loaded(results, dsn, drops)


def test_truncated_xlsx_is_set_aside(dsn, district, tmp_path) -> None:
    drops = good_drops(tmp_path, district)
    whole = (district / "xlsx" / f"htn_followups_{MONTH}.xlsx").read_bytes()
    bad = drops / "platform" / MONTH / f"htn_followups_{MONTH}.xlsx"
    bad.write_bytes(whole[: len(whole) // 2])
    results = ingest(dsn, drops)
    assert_set_aside(results, dsn, drops, bad, "XLSX workbook")
    assert_good_files_loaded(results, dsn, drops)


# --- population CSV content --------------------------------------------------------------------


def test_wrong_population_headers_are_named(dsn, district, tmp_path) -> None:
    """Before: ValueError listing the header, and every later file waited."""
    drops = good_drops(tmp_path, district)
    text = population_text(district, 2026).replace("常住人口", "人口数", 1)
    bad = write_population(drops, "population_2026.csv", text)
    results = ingest(dsn, drops)
    assert_set_aside(
        results, dsn, drops, bad, "unknown columns ['人口数']", "missing columns ['常住人口']"
    )
    assert_good_files_loaded(results, dsn, drops)


def test_row_with_extra_columns_is_named_not_a_crash(dsn, district, tmp_path) -> None:
    """Before: TypeError (a None key from csv.DictReader) stopped every file."""

    def extra(lines: list[str]) -> list[str]:
        lines[10] += ",999"
        return lines

    drops, bad = bad_population(tmp_path, district, extra)
    results = ingest(dsn, drops)
    # the row's cell is then missing: the file is incomplete and names the row
    assert_set_aside(
        results, dsn, drops, bad, "incomplete: 1 of 1616", "1 extra_columns:7>6 (line 11)"
    )
    assert_good_files_loaded(results, dsn, drops)


def test_population_csv_truncated_at_a_row_boundary_is_set_aside(dsn, district, tmp_path) -> None:
    """Before: accepted, the last 40 cells of the table silently absent."""
    drops, bad = bad_population(tmp_path, district, lambda lines: lines[:-40])
    results = ingest(dsn, drops)
    assert_set_aside(results, dsn, drops, bad, "incomplete: 40 of 1616", "2026/410108102/2/")
    assert_good_files_loaded(results, dsn, drops)
    with psycopg.connect(dsn) as conn:
        assert conn.execute(
            "select count(*) from raw.stat_population where year = 2026"
        ).fetchone() == (0,)


def test_population_csv_lacking_a_township_is_set_aside(dsn, district, tmp_path) -> None:
    """Before: accepted, the district's population short of one township."""
    drops, bad = bad_population(
        tmp_path, district, lambda lines: [x for x in lines if ",410108005," not in x]
    )
    results = ingest(dsn, drops)
    assert_set_aside(
        results, dsn, drops, bad, "incomplete: 202 of 1616", "without any row: 410108005 in 2026"
    )
    assert_good_files_loaded(results, dsn, drops)


def test_rows_of_an_unknown_township_are_quarantined(dsn, district, tmp_path) -> None:
    """Before: accepted, 410108999 counting toward the district."""
    drops = good_drops(tmp_path, district)
    text = population_text(district, 2026)
    text += "2026,410108999,不存在街道,男,30,5000\n2026,410108999,不存在街道,女,30,5000\n"
    path = write_population(drops, "population_2026.csv", text)
    results = ingest(dsn, drops)
    assert_good_files_loaded(results, dsn, drops)
    result = next(r for r in results if r.path == path)
    assert result.status == "success" and path.exists()
    counts = result.counts
    assert (counts.received, counts.loaded, counts.quarantined) == (1618, 1616, 2)
    assert counts.reconciles
    with psycopg.connect(dsn) as conn:
        assert conn.execute(
            "select count(*) from raw.stat_population where township_code = '410108999'"
        ).fetchone() == (0,)
        reasons = conn.execute(
            "select reason, payload from raw.quarantine where entity = 'stat_population'"
        ).fetchall()
        error = conn.execute(
            "select error from ops.load_audit where source = 'file:population_2026.csv'"
        ).fetchone()[0]
    assert [r for r, _ in reasons] == ["unknown_township", "unknown_township"]
    assert all(json.loads(p)["乡镇街道代码"] == "410108999" for _, p in reasons)
    assert "unknown_township" in error and "410108999" in error


def test_contradicting_population_rows_are_set_aside(dsn, district, tmp_path) -> None:
    code = population_text(district, 2026).splitlines()[5].split(",")[1]

    def contradict(lines: list[str]) -> list[str]:
        return [*lines, ",".join([*lines[5].split(",")[:5], "999999"])]

    drops, bad = bad_population(tmp_path, district, contradict)
    results = ingest(dsn, drops)
    assert_set_aside(results, dsn, drops, bad, "contradicting rows", f"2026/{code}/")
    assert_good_files_loaded(results, dsn, drops)


def test_population_waits_for_the_org_units(dsn, district, tmp_path, admin_dsn) -> None:
    """Without township org units a population file cannot be checked: it stays for the next
    run (deferred), and the XLSX files still load."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute("drop table raw.org_units")
    drops = good_drops(tmp_path, district)
    results = ingest(dsn, drops)
    pop = next(r for r in results if r.kind == file_drops.POPULATION_KIND)
    assert pop.status == "deferred" and pop.path.exists() and "org units" in pop.reason
    assert not (drops / "quarantine").exists()
    assert all(r.status == "success" for r in results if r.kind == file_drops.XLSX_KIND)
    assert [r[3] for r in audit_rows(dsn) if r[2] == "file:population_2025.csv"] == ["deferred"]


# --- XLSX content ------------------------------------------------------------------------------


def test_renamed_xlsx_column_is_set_aside(dsn, district, tmp_path) -> None:
    """Before: the 收缩压 column was dropped without a trace and the file loaded."""
    drops = good_drops(tmp_path, district)

    def rename(ws) -> None:
        ws.cell(1, column_of(ws, "收缩压(mmHg)")).value = "收缩压"

    bad = htn_workbook(district, drops, rename)
    results = ingest(dsn, drops)
    assert_set_aside(
        results, dsn, drops, bad, "unknown columns ['收缩压']", "missing columns ['收缩压(mmHg)']"
    )
    assert_good_files_loaded(results, dsn, drops)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select to_regclass('raw.htn_followups')").fetchone() == (None,)


def test_missing_optional_xlsx_column_is_loaded_and_noted(dsn, district, tmp_path) -> None:
    drops = good_drops(tmp_path, district)
    path = htn_workbook(district, drops, lambda ws: ws.delete_cols(column_of(ws, "责任医生")))
    results = ingest(dsn, drops)
    assert_good_files_loaded(results, dsn, drops)
    result = next(r for r in results if r.path == path)
    assert result.status == "success" and result.counts.loaded > 0
    rows = [r for r in audit_rows(dsn) if r[2] == f"file:{path.name}"]
    assert rows and "columns missing, loaded as absent: ['责任医生']" in rows[0][9]


def test_formula_without_cached_value_is_set_aside(dsn, district, tmp_path) -> None:
    """Before: read as NULL (data_only on a workbook never calculated)."""
    drops = good_drops(tmp_path, district)
    coordinate: list[str] = []

    def formula(ws) -> None:
        cell = ws.cell(2, column_of(ws, "收缩压(mmHg)"))
        cell.value = "=120+5"
        coordinate.append(cell.coordinate)

    bad = htn_workbook(district, drops, formula)
    results = ingest(dsn, drops)
    assert_set_aside(
        results, dsn, drops, bad, "1 formula cells without a cached value", f"{coordinate[0]}"
    )
    assert_good_files_loaded(results, dsn, drops)


def test_formula_with_cached_value_is_read_as_that_value(dsn, district, tmp_path) -> None:
    drops = good_drops(tmp_path, district)
    record_id: list[str] = []

    def formula(ws) -> None:
        ws.cell(2, column_of(ws, "收缩压(mmHg)")).value = "=120+5"
        record_id.append(ws.cell(2, column_of(ws, "记录ID")).value)

    path = htn_workbook(district, drops, formula)
    # what Excel writes on saving: the formula and its last calculated value
    with zipfile.ZipFile(path) as zin:
        parts = {n: zin.read(n) for n in zin.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    xml, n = re.subn(
        rb"<f>120\+5</f>\s*(<v\s*/>|<v>\s*</v>)?", b"<f>120+5</f><v>125</v>", parts[sheet]
    )
    assert n == 1
    parts[sheet] = xml
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    results = ingest(dsn, drops)
    assert_good_files_loaded(results, dsn, drops)
    result = next(r for r in results if r.path == path)
    assert result.status == "success"
    assert any("1 formula cells read as their cached value" in n for n in result.notes)
    with psycopg.connect(dsn) as conn:
        sbp = conn.execute(
            "select payload -> 'sbp' from raw.htn_followups where record_id = %s", record_id
        ).fetchone()
    assert sbp == (125,)


# --- the Airflow task --------------------------------------------------------------------------


def test_airflow_task_loads_everything_then_the_check_fails_naming_the_files(
    dsn, district, tmp_path, monkeypatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from phwarehouse.pipeline import ingest_tasks

    drops = good_drops(tmp_path, district)
    (drops / "platform" / MONTH / f"deaths_{MONTH}.xlsx").write_bytes(b"PK\x03\x04broken")
    monkeypatch.setattr(ingest_tasks.runtime, "warehouse_dsn", lambda role: dsn)
    monkeypatch.setattr(ingest_tasks.runtime, "drop_dir", lambda: drops)

    class Run:
        run_id = "manual__2026-12-01"

    context = {"dag_run": Run()}
    out = ingest_tasks.ingest_file_drops(context)  # no error: the good files are loaded
    statuses = {row["file"]: row["status"] for row in out}
    assert statuses[f"deaths_{MONTH}.xlsx"] == "rejected"
    assert sum(s == "success" for s in statuses.values()) == 3
    with pytest.raises(AirflowFailException, match=f"platform/{MONTH}/deaths_{MONTH}.xlsx"):
        ingest_tasks.check_file_drops(context)
    # a later try of the same run still fails (the file was moved by the first), another run
    # with nothing set aside passes
    assert ingest_tasks.ingest_file_drops(context)
    with pytest.raises(AirflowFailException, match="1 drop file"):
        ingest_tasks.check_file_drops(context)
    Run.run_id = "manual__2026-12-02"
    assert all(row["status"] == "skipped" for row in ingest_tasks.ingest_file_drops(context))
    ingest_tasks.check_file_drops(context)


# --- one load at a time per entity ---------------------------------------------------------------


def test_a_platform_workbook_loads_under_its_entity_lock(dsn, district, admin_dsn) -> None:
    """A file drop takes the lock a platform_ingest run holds for the entity, so that a first
    API load (which looks up stored versions in what it loaded itself) has the table alone."""
    path = district / "xlsx" / f"htn_followups_{MONTH}.xlsx"
    held = (
        "select count(*) from pg_locks where locktype = 'advisory' and pid = %s"
        " and objid = (hashtext('phwarehouse.ingest.htn_followups')::bigint & 4294967295)"
        " and granted"
    )
    with psycopg.connect(dsn) as loading, psycopg.connect(admin_dsn) as watcher:
        result = file_drops.ingest_platform_xlsx(loading, path, "lock-check")
        assert result.counts.loaded > 0
        pid = loading.info.backend_pid
        assert watcher.execute(held, (pid,)).fetchone()[0] == 1  # until the file commits
        loading.commit()
        assert watcher.execute(held, (pid,)).fetchone()[0] == 0


def test_a_workbook_waits_for_a_platform_run_without_blocking_it(dsn, district) -> None:
    """While a platform_ingest run holds the entity's lock, a workbook of that entity waits
    holding nothing the run needs: the run's next chunk (a write to raw.<entity>) and another
    load's start (the DDL lock) go through; the workbook loads once the run ends."""
    path = district / "xlsx" / f"htn_followups_{MONTH}.xlsx"
    with psycopg.connect(dsn) as run:
        raw_store.ensure_ops_tables(run)
        raw_store.ensure_entity_table(run, "htn_followups")
        run.commit()
        raw_store.lock_entity(run, "htn_followups")  # a platform run's session lock
        done: dict[str, object] = {}

        def load_workbook_file() -> None:
            with psycopg.connect(dsn) as loading:
                done["result"] = file_drops.ingest_platform_xlsx(loading, path, "waits")
                loading.commit()

        waiting = threading.Thread(target=load_workbook_file)
        waiting.start()
        time.sleep(1.0)
        assert waiting.is_alive() and "result" not in done  # waits for the run
        run.execute("set lock_timeout = '5s'")
        run.execute(  # the run's next chunk, then a load starting: neither is blocked
            "insert into raw.htn_followups (record_id, version, source_updated_at, payload,"
            " batch_id, extracted_at) values ('HF-RUN', 1, now(), '{}', 'run', now())"
        )
        raw_store.ensure_ops_tables(run)
        run.commit()
        run.execute("select pg_advisory_unlock_all()")
        waiting.join(timeout=60)
    assert not waiting.is_alive() and done["result"].counts.loaded > 0
