"""File drops: the statistics bureau's population CSV and the platform's monthly XLSX exports.

A file is identified by its SHA-256: one already ingested is skipped, whatever its name. Each
file is one batch with an audit row whose counts reconcile like the API's.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from phwarehouse.ingestion import raw_store
from phwarehouse.ingestion.contracts import contract_for
from phwarehouse.ingestion.raw_store import LoadCounts, RejectedRecord, ValidRecord
from phwarehouse.ingestion.validation import validate
from phwarehouse.platform import schema

POPULATION_ENTITY = "stat_population"
POPULATION_COLUMNS = {
    "年份": "year",
    "乡镇街道代码": "township_code",
    "乡镇街道名称": "township_name",
    "性别": "sex",
    "年龄": "age",
    "常住人口": "population",
}
SEX_CODES = {"男": "1", "女": "2", "1": "1", "2": "2"}

POPULATION_DDL = """
create table if not exists raw.stat_population (
    year integer not null,
    township_code text not null,
    township_name text,
    sex_code text not null,
    age integer not null,
    population integer not null,
    source_file text not null,
    file_sha256 text not null,
    batch_id text not null,
    loaded_at timestamptz not null default now(),
    primary key (year, township_code, sex_code, age)
);
"""


@dataclass
class FileResult:
    path: Path
    kind: str
    skipped: bool
    counts: LoadCounts


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def already_ingested(conn: psycopg.Connection, sha: str) -> bool:
    return (
        conn.execute("select 1 from ops.file_ingestions where sha256 = %s", (sha,)).fetchone()
        is not None
    )


def _audit(
    conn: psycopg.Connection,
    batch_id: str,
    entity: str,
    source: str,
    counts: LoadCounts,
    started: datetime,
) -> None:
    conn.execute(
        "insert into ops.load_audit (batch_id, entity, source, started_at, finished_at, status,"
        " received, loaded, quarantined, duplicates, deletions)"
        " values (%s, %s, %s, %s, now(), 'success', %s, %s, %s, %s, %s)"
        " on conflict (batch_id, entity) do update set received = excluded.received,"
        " loaded = excluded.loaded, quarantined = excluded.quarantined,"
        " duplicates = excluded.duplicates, deletions = excluded.deletions,"
        " finished_at = now(), status = 'success'",
        (
            batch_id,
            entity,
            source,
            started,
            counts.received,
            counts.loaded,
            counts.quarantined,
            counts.duplicates,
            counts.deletions,
        ),
    )


def _register(
    conn: psycopg.Connection, sha: str, path: Path, kind: str, rows: int, batch_id: str
) -> None:
    conn.execute(
        "insert into ops.file_ingestions (sha256, file_name, kind, rows_received, batch_id)"
        " values (%s, %s, %s, %s, %s) on conflict (sha256) do nothing",
        (sha, path.name, kind, rows, batch_id),
    )


def _population_row(row: dict[str, str]) -> tuple[Any, ...] | str:
    """Typed population row, or the quarantine reason."""
    try:
        year = int(row["year"])
        age = int(row["age"])
        population = int(row["population"])
    except (KeyError, TypeError, ValueError):
        return "wrong_type:year/age/population"
    code = (row.get("township_code") or "").strip()
    if not code:
        return "missing_key:township_code"
    sex = SEX_CODES.get((row.get("sex") or "").strip())
    if sex is None:
        return "invalid_code:sex"
    if not (1900 <= year <= 2100 and 0 <= age <= 130 and population >= 0):
        return "out_of_range:year/age/population"
    return (year, code, (row.get("township_name") or "").strip() or None, sex, age, population)


def ingest_population_csv(conn: psycopg.Connection, path: Path, batch_id: str) -> FileResult:
    """Upsert one statistics-bureau CSV into raw.stat_population (a newer file replaces rows)."""
    raw_store.ensure_ops_tables(conn)
    conn.execute(POPULATION_DDL)
    sha = sha256_of(path)
    if already_ingested(conn, sha):
        return FileResult(path, "population_csv", True, LoadCounts())
    started = datetime.now(UTC)
    counts = LoadCounts()
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    unknown = [h for h in reader.fieldnames or [] if h not in POPULATION_COLUMNS]
    if unknown or not reader.fieldnames:
        raise ValueError(f"{path.name}: unexpected population CSV header {reader.fieldnames}")
    seen: set[tuple[Any, ...]] = set()
    for raw_row in reader:
        counts.received += 1
        row = {POPULATION_COLUMNS[k]: v for k, v in raw_row.items() if k in POPULATION_COLUMNS}
        typed = _population_row(row)
        if isinstance(typed, str):
            payload = json.dumps(raw_row, ensure_ascii=False, sort_keys=True)
            added = conn.execute(
                "insert into raw.quarantine (entity, source, batch_id, reason, payload,"
                " payload_sha256) values (%s, 'file', %s, %s, %s, %s)"
                " on conflict (entity, payload_sha256) do nothing",
                (POPULATION_ENTITY, batch_id, typed, payload, raw_store.payload_hash(payload)),
            ).rowcount
            counts.quarantined += 1 if added else 0
            counts.duplicates += 0 if added else 1
            continue
        key = typed[0:2] + typed[3:5]
        if key in seen:
            counts.duplicates += 1
            continue
        seen.add(key)
        changed = conn.execute(
            "insert into raw.stat_population (year, township_code, township_name, sex_code, age,"
            " population, source_file, file_sha256, batch_id) values (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " on conflict (year, township_code, sex_code, age) do update set"
            " population = excluded.population, township_name = excluded.township_name,"
            " source_file = excluded.source_file, file_sha256 = excluded.file_sha256,"
            " batch_id = excluded.batch_id, loaded_at = now()"
            " where raw.stat_population.population is distinct from excluded.population",
            (*typed, path.name, sha, batch_id),
        ).rowcount
        if changed:
            counts.loaded += 1
        else:
            counts.duplicates += 1
    _audit(conn, batch_id, POPULATION_ENTITY, f"file:{path.name}", counts, started)
    _register(conn, sha, path, "population_csv", counts.received, batch_id)
    return FileResult(path, "population_csv", False, counts)


def _xlsx_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(entity, row dict keyed by field name) for every data row of a platform XLSX export."""
    from openpyxl import load_workbook

    by_zh = {e.zh: e for e in schema.ENTITIES.values()}
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            entity = schema.ENTITIES.get(sheet.title) or by_zh.get(sheet.title)
            if entity is None:
                raise ValueError(f"{path.name}: sheet {sheet.title!r} is no platform entity")
            labels = {f.zh: f for f in entity.fields}
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                continue
            fields = [labels.get(str(h).strip()) if h is not None else None for h in header]
            for values in rows:
                if values is None or all(v is None for v in values):
                    continue
                record: dict[str, Any] = {}
                for fld, value in zip(fields, values, strict=False):
                    if fld is not None:
                        record[fld.name] = _from_cell(fld.type, value)
                yield entity.name, record
    finally:
        workbook.close()


def _from_cell(type_: str, value: Any) -> Any:
    """Bring an XLSX cell back to the API's JSON representation."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if type_ == "datetime":
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if type_ == "boolean" and isinstance(value, str):
        return {"是": True, "否": False, "true": True, "false": False}.get(
            value.strip().lower(), value
        )
    if type_ == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def ingest_platform_xlsx(conn: psycopg.Connection, path: Path, batch_id: str) -> FileResult:
    """Load a monthly platform export into the same raw tables as the API feed."""
    raw_store.ensure_ops_tables(conn)
    sha = sha256_of(path)
    if already_ingested(conn, sha):
        return FileResult(path, "platform_xlsx", True, LoadCounts())
    started = datetime.now(UTC)
    extracted_at = started
    per_entity: dict[str, tuple[list[ValidRecord], list[RejectedRecord]]] = {}
    for entity, record in _xlsx_rows(path):
        valid, rejected = per_entity.setdefault(entity, ([], []))
        result = validate(contract_for(entity), record)
        (valid if isinstance(result, ValidRecord) else rejected).append(result)  # type: ignore[arg-type]
    total = LoadCounts()
    for entity, (valid, rejected) in per_entity.items():
        raw_store.ensure_entity_table(conn, entity)
        counts = raw_store.load_records(
            conn, entity, batch_id, extracted_at, valid, rejected, source="file"
        )
        _audit(conn, batch_id, entity, f"file:{path.name}", counts, started)
        total.add(counts)
    _register(conn, sha, path, "platform_xlsx", total.received, batch_id)
    return FileResult(path, "platform_xlsx", False, total)


def ingest_drop_folder(dsn: str, drop_dir: Path, batch_prefix: str) -> list[FileResult]:
    """Ingest every new file under drop_dir/population/*.csv and drop_dir/platform/**/*.xlsx."""
    results: list[FileResult] = []
    files = [(p, "population") for p in sorted((drop_dir / "population").glob("*.csv"))]
    files += [(p, "platform") for p in sorted((drop_dir / "platform").rglob("*.xlsx"))]
    for path, kind in files:
        with psycopg.connect(dsn) as conn:
            batch_id = f"{batch_prefix}:{path.name}"
            if kind == "population":
                results.append(ingest_population_csv(conn, path, batch_id))
            else:
                results.append(ingest_platform_xlsx(conn, path, batch_id))
            conn.commit()
    return results
