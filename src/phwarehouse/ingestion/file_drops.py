"""File drops: the statistics bureau's population CSV and the platform's monthly XLSX exports.

A file is identified by its SHA-256: one already ingested is skipped, whatever its name. Every
file is processed on its own, in its own transaction, and ends in one of these states:

- **success**: one batch with an audit row per entity whose counts reconcile like the API's
  (received = loaded + quarantined + duplicates + conflicts). What the file did not say plainly
  is noted in the audit row's `error` column, prefixed `note:` (a CSV decoded as GB18030, an
  optional XLSX column missing, formula cells read as their cached values, rows of unknown
  townships quarantined).
- **rejected**: the file as a whole cannot be trusted: unreadable (wrong encoding, an empty or
  truncated workbook), unknown or missing key columns, a formula without a cached value, an
  incomplete or self-contradicting population table. Nothing of it is loaded: it is moved to
  `<drop_dir>/quarantine/<relative path>` (folders 0700, the file 0600, its reason beside it in
  `<name>.reason.txt`) and an audit row (status `rejected`, source `file:<name>`) names the file
  and the reason. Fixed files are re-dropped into the usual folder.
- **failed**: an unexpected error while reading it: set aside like a rejected file.
- **deferred**: a population file while the warehouse has no township org units yet (they come
  with the platform feed): it cannot be validated, so it stays in the drop folder for the next
  run (audit status `deferred`).

A warehouse that cannot be reached (or refuses a statement for a reason other than the file's
data) stops the run: the file stays where it is, and the error names it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import zip_longest
from pathlib import Path
from typing import Any

import psycopg

from phwarehouse import contract as platform_contract
from phwarehouse.contract import raw_tables
from phwarehouse.ingestion import raw_store
from phwarehouse.ingestion.contracts import contract_for
from phwarehouse.ingestion.raw_store import LoadCounts, RejectedRecord, ValidRecord
from phwarehouse.ingestion.validation import parse_date, safe_text, storable, validate

log = logging.getLogger(__name__)

POPULATION_ENTITY = raw_tables.POPULATION_TABLE
POPULATION_KIND = "population_csv"
XLSX_KIND = "platform_xlsx"
POPULATION_COLUMNS = {
    "年份": "year",
    "乡镇街道代码": "township_code",
    "乡镇街道名称": "township_name",
    "性别": "sex",
    "年龄": "age",
    "常住人口": "population",
}
#: every column but the township's name is needed to place a count
POPULATION_REQUIRED = ("年份", "乡镇街道代码", "性别", "年龄", "常住人口")
SEX_CODES = {"男": "1", "女": "2", "1": "1", "2": "2"}
#: the bureau's table: township x sex x single year of age 0..100 (100 = 100 and over)
POPULATION_SEXES = ("1", "2")
POPULATION_AGES = range(0, 101)
#: raw.stat_population.population is a PostgreSQL integer
MAX_POPULATION = 2**31 - 1

QUARANTINE_DIR = "quarantine"
#: what a problem list in a reason shows before "and N more"
SHOWN = 5

POPULATION_DDL = raw_tables.create_table(
    POPULATION_ENTITY, raw_tables.POPULATION_COLUMNS, raw_tables.POPULATION_PRIMARY_KEY
)


class FileRejected(Exception):
    """The file cannot be loaded as a whole; `reason` says why (it is set aside)."""

    def __init__(self, reason: str, entity: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.entity = entity


class FileDeferred(Exception):
    """The file cannot be checked yet; it stays in the drop folder for the next run."""

    def __init__(self, reason: str, entity: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.entity = entity


@dataclass
class FileResult:
    path: Path
    kind: str
    skipped: bool
    counts: LoadCounts
    #: success | skipped | rejected | failed | deferred
    status: str = "success"
    #: why a file was rejected, failed or deferred (names the file)
    reason: str | None = None
    #: where a rejected or failed file was moved
    moved_to: Path | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_set_aside(self) -> bool:
        return self.status in ("rejected", "failed")


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
    status: str = "success",
    error: str | None = None,
) -> None:
    conn.execute(
        "insert into ops.load_audit (batch_id, entity, source, started_at, finished_at, status,"
        " received, loaded, quarantined, duplicates, conflicts, deletions, error)"
        " values (%s, %s, %s, %s, now(), %s, %s, %s, %s, %s, %s, %s, %s)"
        " on conflict (batch_id, entity) do update set source = excluded.source,"
        " started_at = excluded.started_at, received = excluded.received,"
        " loaded = excluded.loaded, quarantined = excluded.quarantined,"
        " duplicates = excluded.duplicates, conflicts = excluded.conflicts,"
        " deletions = excluded.deletions, finished_at = now(), status = excluded.status,"
        " error = excluded.error",
        (
            batch_id,
            entity,
            source,
            started,
            status,
            counts.received,
            counts.loaded,
            counts.quarantined,
            counts.duplicates,
            counts.conflicts,
            counts.deletions,
            safe_text(error)[:4000] if error else None,
        ),
    )


def _notes_text(notes: list[str] | tuple[str, ...]) -> str | None:
    return "; ".join(f"note: {n}" for n in notes) or None


def _register(
    conn: psycopg.Connection, sha: str, path: Path, kind: str, rows: int, batch_id: str
) -> None:
    conn.execute(
        "insert into ops.file_ingestions (sha256, file_name, kind, rows_received, batch_id)"
        " values (%s, %s, %s, %s, %s) on conflict (sha256) do nothing",
        (sha, path.name, kind, rows, batch_id),
    )


def _listed(items: list[str], shown: int = SHOWN) -> str:
    """'a, b, c' or 'a, b, c, d, e and 7 more'."""
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"


# --- population CSV ----------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str | None]:
    """The file's text and a note when it was not UTF-8. Chinese bureaus do send GBK: a file
    that decodes cleanly as GB18030 (a superset of GBK) is read as such; the header check then
    catches a file that only happens to decode."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030"), "decoded as GB18030/GBK (the file is not UTF-8)"
    except UnicodeDecodeError:
        raise FileRejected(
            f"not UTF-8 (invalid byte 0x{data[utf8_error.start]:02x} at position"
            f" {utf8_error.start}) and not GB18030/GBK text either",
            POPULATION_ENTITY,
        ) from None


def _column_problems(
    unknown: list[str], missing: list[str], twice: list[str], missing_is: str = "missing columns"
) -> list[str]:
    """What is wrong with a header, naming the columns."""
    named = (("unknown columns", unknown), (missing_is, missing), ("columns given twice", twice))
    return [f"{what} {columns}" for what, columns in named if columns]


def _population_header(header: list[str], encoding_note: str | None) -> list[str]:
    names = [h.strip() for h in header]
    unknown = [h for h in names if h not in POPULATION_COLUMNS]
    missing = [h for h in POPULATION_REQUIRED if h not in names]
    twice = sorted({h for h in names if names.count(h) > 1})
    problems = _column_problems(unknown, missing, twice)
    if problems:
        hint = f" ({encoding_note})" if encoding_note else ""
        raise FileRejected(
            f"population CSV header{hint}: {'; '.join(problems)}; expected"
            f" {list(POPULATION_COLUMNS)}",
            POPULATION_ENTITY,
        )
    return names


def _population_row(row: dict[str, str]) -> tuple[Any, ...] | str:
    """Typed population row, or the quarantine reason."""
    if not all(storable(v) for v in row.values()):
        return "unstorable_value"
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
    if not (1900 <= year <= 2100 and age in POPULATION_AGES and 0 <= population <= MAX_POPULATION):
        return "out_of_range:year/age/population"
    return (year, code, (row.get("township_name") or "").strip() or None, sex, age, population)


def known_townships(conn: psycopg.Connection) -> dict[str, tuple[date | None, date | None]]:
    """The township org units the warehouse has (code -> opened_on, closed_on)."""
    if conn.execute("select to_regclass('raw.org_units')").fetchone()[0] is None:
        return {}
    rows = conn.execute(
        "select coalesce(payload ->> 'org_unit_code', record_id), payload ->> 'opened_on',"
        " payload ->> 'closed_on' from raw.org_units"
        " where is_latest and not is_deleted and payload ->> 'level' = 'township'"
    ).fetchall()
    return {code: (parse_date(opened), parse_date(closed)) for code, opened, closed in rows}


def _townships_of_year(
    townships: dict[str, tuple[date | None, date | None]], year: int
) -> list[str]:
    """Townships that exist at the end of `year` (the table counts year-end residents)."""
    end = date(year, 12, 31)
    return sorted(
        code
        for code, (opened, closed) in townships.items()
        if (opened is None or opened <= end) and (closed is None or closed > end)
    )


def _missing_cells(
    present: set[tuple[int, str, str, int]],
    townships: dict[str, tuple[date | None, date | None]],
    years: set[int],
) -> str | None:
    """What the file lacks of the bureau's full table for each of its years, or None."""
    per_township = len(POPULATION_SEXES) * len(POPULATION_AGES)
    whole: list[str] = []
    partial: list[str] = []
    required = 0
    for year in sorted(years):
        for code in _townships_of_year(townships, year):
            required += per_township
            lacking = [
                f"{year}/{code}/{sex}/{age}"
                for sex in POPULATION_SEXES
                for age in POPULATION_AGES
                if (year, code, sex, age) not in present
            ]
            if len(lacking) == per_township:
                whole.append(f"{code} in {year}")
            else:
                partial += lacking
    if not whole and not partial:
        return None
    total = len(whole) * per_township + len(partial)
    text = f"incomplete: {total} of {required} (year/township/sex/age) cells missing"
    if whole:
        text += f"; townships without any row: {_listed(whole)}"
    if partial:
        text += f"; missing cells: {_listed(partial)}"
    return text


def _unusable_rows(problems: dict[str, list[int]]) -> str:
    """'2 wrong_type:year/age/population (line 7, 9); 1 extra_columns:7>6 (line 12)'."""
    return "; ".join(
        f"{len(lines)} {reason} (line {_listed([str(n) for n in lines], 3)})"
        for reason, lines in sorted(problems.items())
    )


def _with_rows(reason: str, problems: dict[str, list[int]]) -> str:
    return f"{reason}; rows not usable: {_unusable_rows(problems)}" if problems else reason


def ingest_population_csv(conn: psycopg.Connection, path: Path, batch_id: str) -> FileResult:
    """Upsert one statistics-bureau CSV into raw.stat_population (a newer file replaces rows).

    Raises FileRejected when the file is unreadable, has wrong columns, contradicts itself or
    lacks part of the bureau's table (every known township x sex x age 0..100 for each year in
    the file), FileDeferred when the warehouse has no township org units to check it against.
    Rows of unknown townships, and unusable rows of an otherwise complete file, are quarantined.
    """
    raw_store.ensure_ops_tables(conn)
    conn.execute(POPULATION_DDL)
    # ends the DDL lock before reading raw.org_units: a platform run's first load holds that
    # table until it commits, and every other load waits for the DDL lock meanwhile
    conn.commit()
    sha = sha256_of(path)
    if already_ingested(conn, sha):
        return FileResult(path, POPULATION_KIND, True, LoadCounts(), status="skipped")
    started = datetime.now(UTC)
    notes: list[str] = []
    text, encoding_note = _decode(path.read_bytes())
    if encoding_note:
        notes.append(encoding_note)
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FileRejected(f"unreadable CSV: {exc}", POPULATION_ENTITY) from None
    if not lines or not any(c.strip() for c in lines[0]):
        raise FileRejected("empty file (no header row)", POPULATION_ENTITY)
    header = _population_header(lines[0], encoding_note)
    townships = known_townships(conn)
    if not townships:
        raise FileDeferred(
            "the warehouse has no township org units yet (raw.org_units, loaded by the platform"
            " feed): the file cannot be validated; it stays in the drop folder for the next run",
            POPULATION_ENTITY,
        )

    counts = LoadCounts()
    cells: dict[tuple[int, str, str, int], tuple[Any, ...]] = {}
    contradictions: list[str] = []
    quarantine: list[tuple[str, str]] = []
    problems: dict[str, list[int]] = defaultdict(list)
    unknown_codes: set[str] = set()
    for line_no, values in enumerate(lines[1:], start=2):
        if not any(v.strip() for v in values):
            continue  # a blank line
        counts.received += 1
        raw = dict(zip(header, values, strict=False))
        if len(values) > len(header):
            raw["_extra_columns"] = json.dumps(values[len(header) :], ensure_ascii=False)
            typed: tuple[Any, ...] | str = f"extra_columns:{len(values)}>{len(header)}"
        elif len(values) < len(header):
            typed = f"missing_columns:{len(values)}<{len(header)}"
        else:
            typed = _population_row({POPULATION_COLUMNS[k]: v for k, v in raw.items()})
            if not isinstance(typed, str) and typed[1] not in townships:
                unknown_codes.add(typed[1])
                typed = "unknown_township"
        if isinstance(typed, str):
            payload = safe_text(json.dumps(raw, ensure_ascii=False, sort_keys=True))
            quarantine.append((typed, payload))
            if typed != "unknown_township":
                problems[typed].append(line_no)
            continue
        key = (typed[0], typed[1], typed[3], typed[4])
        if key in cells:
            if cells[key][5] != typed[5]:
                contradictions.append(f"{'/'.join(map(str, key))} (line {line_no})")
            else:
                counts.duplicates += 1
            continue
        cells[key] = typed

    if contradictions:
        raise FileRejected(
            f"contradicting rows: {len(contradictions)} (year/township/sex/age) cells given"
            f" twice with different counts: {_listed(contradictions)}",
            POPULATION_ENTITY,
        )
    if not cells:
        raise FileRejected(_with_rows("no usable rows", problems), POPULATION_ENTITY)
    missing = _missing_cells(set(cells), townships, {k[0] for k in cells})
    if missing:
        raise FileRejected(_with_rows(missing, problems), POPULATION_ENTITY)

    for reason, payload in quarantine:
        added = conn.execute(
            "insert into raw.quarantine (entity, source, batch_id, reason, payload,"
            " payload_sha256) values (%s, 'file', %s, %s, %s, %s)"
            " on conflict (entity, payload_sha256) do nothing",
            (POPULATION_ENTITY, batch_id, reason, payload, raw_store.payload_hash(payload)),
        ).rowcount
        counts.quarantined += 1 if added else 0
        counts.duplicates += 0 if added else 1
    for typed in cells.values():
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
    if unknown_codes:
        unknown_rows = sum(1 for reason, _ in quarantine if reason == "unknown_township")
        notes.append(
            f"{unknown_rows} rows of unknown townships quarantined (unknown_township):"
            f" {_listed(sorted(unknown_codes))}"
        )
    if problems:
        notes.append(f"unusable rows quarantined: {_unusable_rows(problems)}")
    _audit(
        conn,
        batch_id,
        POPULATION_ENTITY,
        f"file:{path.name}",
        counts,
        started,
        error=_notes_text(notes),
    )
    _register(conn, sha, path, POPULATION_KIND, counts.received, batch_id)
    return FileResult(path, POPULATION_KIND, False, counts, notes=tuple(notes))


# --- platform XLSX -----------------------------------------------------------------------------


def _entity_of_sheet(title: str) -> platform_contract.Entity | None:
    by_zh = {e.zh[:31]: e for e in platform_contract.ENTITIES.values()}
    return platform_contract.ENTITIES.get(title) or by_zh.get(title)


def _key_columns(entity: platform_contract.Entity) -> list[str]:
    """Field names a sheet cannot lack: what identifies and versions a record, and the
    contract keys (a row without them would only be quarantined)."""
    names = [
        "record_id",
        "version",
        "updated_at",
        *platform_contract.contract_key_fields(entity.name),
    ]
    return list(dict.fromkeys(names))


def _sheet_fields(
    entity: platform_contract.Entity, title: str, header: tuple[Any, ...]
) -> tuple[list[platform_contract.Field | None], str | None]:
    """The field of each column, and a note naming optional columns the sheet lacks.

    Rejects a sheet with an unknown column, a column given twice or without a key column:
    a renamed column must never be dropped silently. A missing column that is no key is
    accepted (e.g. an export of an older platform release) and noted: its field is loaded as
    absent, like an empty cell."""
    labels = {f.zh: f for f in entity.fields}
    fields: list[platform_contract.Field | None] = []
    unknown: list[str] = []
    twice: list[str] = []
    seen: set[str] = set()
    for cell in header:
        label = "" if cell is None else str(cell).strip()
        fld = labels.get(label) if label else None
        if label and fld is None:
            unknown.append(label)
        elif fld is not None and fld.name in seen:
            twice.append(label)
            fld = None
        if fld is not None:
            seen.add(fld.name)
        fields.append(fld)
    keys = _key_columns(entity)
    missing_keys = [entity.field(n).zh for n in keys if n not in seen]
    missing = [f.zh for f in entity.fields if f.name not in seen | set(keys) | {"deleted"}]
    problems = _column_problems(unknown, missing_keys, twice, "missing key columns")
    if problems:
        if missing:
            problems.append(f"missing columns {missing}")
        raise FileRejected(f"sheet {title!r} ({entity.name}): {'; '.join(problems)}", entity.name)
    note = f"sheet {title!r}: columns missing, loaded as absent: {missing}" if missing else None
    return fields, note


def _field(fields: list[platform_contract.Field | None], i: int) -> platform_contract.Field | None:
    return fields[i] if i < len(fields) else None


def _read_xlsx(path: Path) -> tuple[list[tuple[str, list[dict[str, Any]]]], list[str]]:
    """(entity, row dicts keyed by field name) per sheet of a platform XLSX export, and notes.

    Cells are read as values (data_only); the same workbook opened for its formulas tells
    which cells are formulas: one with a cached value is read as that value (and noted), one
    without (a workbook saved by a program that does not calculate) rejects the file, since
    its value is unknown and must not become NULL."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    try:
        values_wb = load_workbook(path, read_only=True, data_only=True)
        formulas_wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # BadZipFile, InvalidFileException, KeyError, XML errors ...
        raise FileRejected(f"not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    sheets: list[tuple[str, list[dict[str, Any]]]] = []
    notes: list[str] = []
    try:
        for vsheet, fsheet in zip(values_wb.worksheets, formulas_wb.worksheets, strict=True):
            title = vsheet.title
            entity = _entity_of_sheet(title)
            if entity is None:
                raise FileRejected(f"sheet {title!r} is no platform entity")
            value_rows = vsheet.iter_rows(values_only=True)
            formula_rows = fsheet.iter_rows()
            header = next(value_rows, None)
            next(formula_rows, None)
            if header is None or all(h is None for h in header):
                raise FileRejected(f"sheet {title!r} has no header row", entity.name)
            fields, note = _sheet_fields(entity, title, header)
            if note:
                notes.append(note)
            records: list[dict[str, Any]] = []
            uncached: list[str] = []
            cached = 0
            rows = zip_longest(value_rows, formula_rows, fillvalue=())
            for row_no, (values, cells) in enumerate(rows, start=2):
                for value, cell in zip_longest(values, cells):
                    if getattr(cell, "data_type", None) == "f":
                        if value is None:
                            uncached.append(f"{cell.coordinate} ({cell.value})")
                        else:
                            cached += 1
                if all(v is None or v == "" for v in values):
                    continue
                stray = [
                    get_column_letter(i + 1)
                    for i, v in enumerate(values)
                    if v not in (None, "") and _field(fields, i) is None
                ]
                if stray:
                    raise FileRejected(
                        f"sheet {title!r}: values in columns without a header {stray}"
                        f" (row {row_no})",
                        entity.name,
                    )
                records.append(
                    {
                        fld.name: _from_cell(fld.type, value)
                        for fld, value in zip(fields, values, strict=False)
                        if fld is not None
                    }
                )
            if uncached:
                raise FileRejected(
                    f"sheet {title!r}: {len(uncached)} formula cells without a cached value"
                    f" (the workbook was never calculated; open and save it in Excel or WPS,"
                    f" or paste values): {_listed(uncached)}",
                    entity.name,
                )
            if cached:
                notes.append(f"sheet {title!r}: {cached} formula cells read as their cached value")
            sheets.append((entity.name, records))
    except FileRejected:
        raise
    except Exception as exc:  # a truncated member, a broken XML part ...
        raise FileRejected(f"unreadable XLSX workbook ({type(exc).__name__}: {exc})") from None
    finally:
        values_wb.close()
        formulas_wb.close()
    if not sheets:
        raise FileRejected("the workbook has no sheet")
    return sheets, notes


def _from_cell(type_: str, value: Any) -> Any:
    """Bring an XLSX cell back to the API's JSON representation."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if type_ == "datetime":
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        return value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if type_ == "boolean" and isinstance(value, str):
        return {"是": True, "否": False, "true": True, "false": False}.get(
            value.strip().lower(), value
        )
    if type_ == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str | int | float | bool):
        return str(value)
    return value


def ingest_platform_xlsx(conn: psycopg.Connection, path: Path, batch_id: str) -> FileResult:
    """Load a monthly platform export into the same raw tables as the API feed.

    Raises FileRejected when the workbook is unreadable, a sheet is no platform entity, its
    header has unknown, doubled or missing key columns, or a formula has no cached value."""
    raw_store.ensure_ops_tables(conn)
    sha = sha256_of(path)
    if already_ingested(conn, sha):
        return FileResult(path, XLSX_KIND, True, LoadCounts(), status="skipped")
    started = datetime.now(UTC)
    extracted_at = started
    sheets, notes = _read_xlsx(path)
    per_entity: dict[str, tuple[list[ValidRecord], list[RejectedRecord]]] = {}
    for entity, records in sheets:
        valid, rejected = per_entity.setdefault(entity, ([], []))
        contract = contract_for(entity)
        for record in records:
            result = validate(contract, record)
            if isinstance(result, ValidRecord):
                valid.append(result)
            else:
                rejected.append(result)
    # the entities' ingestion locks (a platform_ingest run holds one for its whole run), in
    # order, before any DDL or raw table lock: waited for with nothing the run needs held
    conn.commit()  # ends the DDL lock of ensure_ops_tables
    for entity in sorted(per_entity):
        raw_store.lock_entity_for_transaction(conn, entity)
    if already_ingested(conn, sha):  # by a run of this file that ended while we waited
        return FileResult(path, XLSX_KIND, True, LoadCounts(), status="skipped")
    total = LoadCounts()
    for entity, (valid, rejected) in per_entity.items():
        raw_store.ensure_entity_table(conn, entity)
        counts = raw_store.load_records(
            conn, entity, batch_id, extracted_at, valid, rejected, source="file"
        )
        _audit(
            conn,
            batch_id,
            entity,
            f"file:{path.name}",
            counts,
            started,
            error=_notes_text(notes),
        )
        total.add(counts)
    _register(conn, sha, path, XLSX_KIND, total.received, batch_id)
    return FileResult(path, XLSX_KIND, False, total, notes=tuple(notes))


# --- the drop folder ---------------------------------------------------------------------------


def drop_files(drop_dir: Path) -> list[tuple[Path, str]]:
    """(path, kind) of every file to look at: population/*.csv and platform/**/*.xlsx
    (Excel's `~$` lock files and hidden files left out)."""
    files = [(p, POPULATION_KIND) for p in sorted((drop_dir / "population").glob("*.csv"))]
    files += [(p, XLSX_KIND) for p in sorted((drop_dir / "platform").rglob("*.xlsx"))]
    return [(p, k) for p, k in files if p.is_file() and not p.name.startswith(("~$", "."))]


def _private_dirs(root: Path, folder: Path) -> None:
    """Create root and every folder down to `folder`, each mode 0700 (they hold personal data)."""
    levels = [root]
    for part in folder.relative_to(root).parts:
        levels.append(levels[-1] / part)
    for level in levels:
        level.mkdir(mode=0o700, exist_ok=True)
        os.chmod(level, 0o700)


def set_aside(drop_dir: Path, path: Path, reason: str) -> Path:
    """Move a bad drop file to <drop_dir>/quarantine/<relative path> (0600, in 0700 folders)
    with its reason in `<name>.reason.txt`; a name already taken gets a time stamp."""
    root = drop_dir / QUARANTINE_DIR
    target = root / path.relative_to(drop_dir)
    _private_dirs(root, target.parent)
    if target.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = target.with_name(f"{target.stem}.{stamp}{target.suffix}")
    shutil.move(path, target)
    os.chmod(target, 0o600)
    note = target.with_name(target.name + ".reason.txt")
    fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(reason + "\n")
    os.chmod(note, 0o600)
    return target


def _entity_for(kind: str, path: Path) -> str:
    """The audit entity of a file nothing could be read of: its kind's entity, or the platform
    entity its name starts with (``<entity>_<YYYY-MM>.xlsx``)."""
    if kind == POPULATION_KIND:
        return POPULATION_ENTITY
    name = path.stem.rsplit("_", 1)[0]
    return name if name in platform_contract.ENTITIES else XLSX_KIND


def _ingest_one(dsn: str, drop_dir: Path, path: Path, kind: str, batch_id: str) -> FileResult:
    rel = path.relative_to(drop_dir).as_posix()
    ingest: Callable[[psycopg.Connection, Path, str], FileResult] = (
        ingest_population_csv if kind == POPULATION_KIND else ingest_platform_xlsx
    )
    started = datetime.now(UTC)
    try:
        with psycopg.connect(dsn) as conn:
            result = ingest(conn, path, batch_id)
            conn.commit()
        return result
    except FileDeferred as exc:
        reason = f"{rel}: deferred: {exc.reason}"
        log.warning("%s", reason)
        with psycopg.connect(dsn) as conn:
            entity = exc.entity or _entity_for(kind, path)
            source = f"file:{path.name}"
            _audit(conn, batch_id, entity, source, LoadCounts(), started, "deferred", reason)
        return FileResult(path, kind, False, LoadCounts(), "deferred", reason)
    except FileRejected as exc:
        status, why, entity = "rejected", exc.reason, exc.entity
    except psycopg.DataError as exc:  # a value of the file the database refuses
        status, why, entity = "failed", f"{type(exc).__name__}: {exc}", None
    except psycopg.Error as exc:  # the warehouse, not the file: stop, leave the file in place
        exc.add_note(f"while ingesting drop file {rel} (left in place)")
        raise
    except Exception as exc:
        log.exception("drop file %s could not be read", rel)
        status, why, entity = "failed", f"{type(exc).__name__}: {exc}", None
    moved = set_aside(drop_dir, path, f"{rel}: {status}: {why}")
    reason = f"{rel}: {status}: {why}; moved to {moved.relative_to(drop_dir).as_posix()}"
    log.error("%s", reason)
    with psycopg.connect(dsn) as conn:
        raw_store.ensure_ops_tables(conn)
        entity = entity or _entity_for(kind, path)
        source = f"file:{path.name}"
        _audit(conn, batch_id, entity, source, LoadCounts(), started, status, reason)
    return FileResult(path, kind, False, LoadCounts(), status, reason, moved)


def ingest_drop_folder(dsn: str, drop_dir: Path, batch_prefix: str) -> list[FileResult]:
    """Ingest every new file under drop_dir/population/*.csv and drop_dir/platform/**/*.xlsx,
    each on its own: a bad file is set aside into drop_dir/quarantine and the others load.
    Returns one result per file, the rejected, failed and deferred ones included."""
    return [
        _ingest_one(
            dsn, drop_dir, path, kind, f"{batch_prefix}:{path.relative_to(drop_dir).as_posix()}"
        )
        for path, kind in drop_files(drop_dir)
    ]


def set_aside_in_run(dsn: str, batch_prefix: str) -> list[str]:
    """The reasons of the drop files rejected or failed by the batches of one run (every try)."""
    prefix = f"{batch_prefix}:"
    with psycopg.connect(dsn) as conn:
        if conn.execute("select to_regclass('ops.load_audit')").fetchone()[0] is None:
            return []
        rows = conn.execute(
            "select error from ops.load_audit where left(batch_id, %s) = %s"
            " and source like 'file:%%' and status in ('rejected', 'failed')"
            " order by started_at, batch_id",
            (len(prefix), prefix),
        ).fetchall()
    return [error for (error,) in rows]
