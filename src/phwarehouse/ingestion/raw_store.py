"""The raw schema: every version of every platform record, landed by COPY, idempotently.

`raw.<entity>` keeps one row per (record_id, version) with the payload as received (JSONB) and
load metadata. Re-loading a version already present changes nothing, so replaying a batch or
re-running an interval is a no-op. `is_latest` marks the newest version of each record and
`is_deleted` marks every version of a record whose newest version is a platform tombstone;
`field_issues` lists the fields of that version the models treat as missing (wrong type,
unstorable value; see validation.py). Rows breaking the source contract go to `raw.quarantine`
(unique on entity + payload hash), and so does a version that arrives again with a different
content (reason `conflicting_version`: the first content received stays, the conflict is kept
for review). Every received row is counted once:
received = loaded + quarantined + duplicates + conflicts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from phwarehouse.contract import raw_tables

#: the indexes of raw.<entity> besides its primary key: name suffix and definition
ENTITY_INDEXES = {
    "loaded_idx": "(loaded_at)",
    "issues_idx": "(record_id) where field_issues is not null",
}
ENTITY_INDEX_DDL = "".join(
    f"create index if not exists {{table}}_{name} on raw.{{table}} {definition};\n"
    for name, definition in ENTITY_INDEXES.items()
)
#: raw.<entity> (columns declared in phwarehouse.contract.raw_tables) and its indexes
ENTITY_TABLE_DDL = (
    raw_tables.create_table("{table}", raw_tables.ENTITY_COLUMNS, raw_tables.ENTITY_PRIMARY_KEY)
    + ENTITY_INDEX_DDL
)
#: indexes of earlier releases that no reader uses and that cost the load a fifth of its
#: PostgreSQL time (measured): latest versions are read by scanning every row, or through
#: loaded_at; nothing looks rows up by source_updated_at. Every platform entity's table
#: drops them (ENTITY_MIGRATIONS), so an is_latest update no longer touches an index.
RETIRED_INDEXES = ("latest_idx", "updated_idx")

OPS_DDL = """
create table if not exists raw.quarantine (
    quarantine_id bigserial primary key,
    entity text not null,
    source text not null,
    batch_id text not null,
    record_id text,
    reason text not null,
    payload text not null,
    payload_sha256 text not null,
    received_at timestamptz not null default now(),
    unique (entity, payload_sha256)
);
create table if not exists ops.load_audit (
    batch_id text not null,
    entity text not null,
    source text not null,
    interval_start timestamptz,
    interval_end timestamptz,
    watermark_from timestamptz,
    watermark_to timestamptz,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null,
    received bigint not null default 0,
    loaded bigint not null default 0,
    quarantined bigint not null default 0,
    duplicates bigint not null default 0,
    conflicts bigint not null default 0,
    deletions bigint not null default 0,
    requests integer not null default 0,
    retries integer not null default 0,
    error text,
    primary key (batch_id, entity),
    constraint load_audit_reconciles_with_conflicts check (
        status <> 'success' or received = loaded + quarantined + duplicates + conflicts
    )
);
create table if not exists ops.watermarks (
    entity text primary key,
    source_updated_at timestamptz not null,
    batch_id text not null,
    updated_at timestamptz not null default now()
);
create table if not exists ops.file_ingestions (
    sha256 text primary key,
    file_name text not null,
    kind text not null,
    rows_received bigint not null,
    batch_id text not null,
    ingested_at timestamptz not null default now()
);
"""

#: brings tables created by an earlier release to the current shape (cheap when already there:
#: ALTER only runs when the catalog says it is needed, so no lock is taken on a current table)
OPS_MIGRATIONS = """
do $$
begin
    if not exists (  -- the catalog, not information_schema: ms each, for every load
        select from pg_attribute
        where attrelid = to_regclass('ops.load_audit') and attname = 'conflicts'
    ) then
        alter table ops.load_audit add column conflicts bigint not null default 0;
        alter table ops.load_audit drop constraint if exists load_audit_reconciles;
        alter table ops.load_audit add constraint load_audit_reconciles_with_conflicts check (
            status <> 'success' or received = loaded + quarantined + duplicates + conflicts
        );
    end if;
end $$;
"""

ENTITY_MIGRATIONS = """
do $$
begin
    if to_regclass('raw.{table}') is not null and not exists (
        select from pg_attribute
        where attrelid = to_regclass('raw.{table}') and attname = 'field_issues'
    ) then
        alter table raw.{table} add column field_issues jsonb;
    end if;
end $$;
""" + "".join(f"drop index if exists raw.{{table}}_{name};\n" for name in RETIRED_INDEXES)


@dataclass
class LoadCounts:
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    conflicts: int = 0
    deletions: int = 0

    def add(self, other: LoadCounts) -> None:
        self.received += other.received
        self.loaded += other.loaded
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates
        self.conflicts += other.conflicts
        self.deletions += other.deletions

    @property
    def reconciles(self) -> bool:
        return self.received == self.loaded + self.quarantined + self.duplicates + self.conflicts


@dataclass(frozen=True)
class FieldIssue:
    """A field the models treat as missing; `value` is the offending value as text, if storable."""

    field: str
    reason: str
    value: str | None


@dataclass(slots=True)  # not frozen: a frozen init costs 0.5 us, a fifth of a record's check
class ValidRecord:
    record_id: str
    version: int
    updated_at: datetime
    deleted: bool
    #: the payload as parsed; None when only its received text was kept (validate_clean)
    payload: dict | None
    field_issues: tuple[FieldIssue, ...] = ()
    #: `payload` as received, when it can go to a jsonb COPY unchanged (see validation.py):
    #: its UTF-8 bytes from the clean path (validate_clean), its text from `validate`
    payload_text: str | bytes | None = field(default=None, compare=False, repr=False)
    #: `updated_at` as received, when a COPY can take that text (validation.utc_text)
    updated_at_text: str | None = field(default=None, compare=False, repr=False)

    def content(self) -> dict:
        """The payload as a dict, parsed from the received text if need be."""
        if self.payload is None:
            return json.loads(self.payload_text or "{}")
        return self.payload

    def payload_json(self) -> str:
        """The payload as JSON text: the received text when kept, else serialised."""
        if self.payload_text is not None:
            text = self.payload_text
            return text.decode("utf-8") if isinstance(text, bytes) else text
        return json.dumps(self.payload, ensure_ascii=False)

    def payload_copy_bytes(self) -> bytes:
        """The payload as UTF-8 JSON for a COPY: the received bytes when kept (no decoding,
        no encoding: a clean record's COPY field is the bytes the platform sent)."""
        text = self.payload_text
        if type(text) is bytes:
            return text
        return (text if text is not None else self.payload_json()).encode("utf-8")

    def field_issues_json(self) -> str | None:
        if not self.field_issues:
            return None
        return json.dumps(
            [{"field": i.field, "reason": i.reason, "value": i.value} for i in self.field_issues],
            ensure_ascii=False,
        )


@dataclass(frozen=True)
class RejectedRecord:
    reason: str
    payload_text: str
    record_id: str | None = None


def table_name(entity: str) -> str:
    if not entity.replace("_", "").isalnum() or not entity.islower():
        raise ValueError(f"not a valid entity name: {entity!r}")
    return entity


DDL_LOCK = "select pg_advisory_xact_lock(hashtext('phwarehouse.raw.ddl'))"


def _entity_lock_key(entity: str) -> str:
    return f"phwarehouse.ingest.{table_name(entity)}"


def lock_entity(conn: psycopg.Connection, entity: str) -> None:
    """Hold the entity's ingestion lock for this session: one load at a time per entity."""
    conn.execute("select pg_advisory_lock(hashtext(%s))", (_entity_lock_key(entity),))


def lock_entity_for_transaction(conn: psycopg.Connection, entity: str) -> None:
    """The entity's ingestion lock, until the transaction ends (a file drop's load)."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (_entity_lock_key(entity),))


def is_empty(conn: psycopg.Connection, entity: str) -> bool:
    table = sql.Identifier("raw", table_name(entity))
    (exists,) = conn.execute(sql.SQL("select exists (select from {t})").format(t=table)).fetchone()
    return not exists


class LoadedVersions:
    """The versions one run stored, by record: a stand-in for looking them up in raw.<entity>
    (a fifth of the initial load's PostgreSQL time, measured) while the run holds the
    entity's lock on a table that was empty when it took it, so that nothing else is stored
    (see FirstLoad). About 95 bytes per record, mostly its id (a set of versions each would
    add 200 bytes): ~1 GB for a first load of 10 M records of one entity."""

    def __init__(self) -> None:
        self._versions: dict[str, int | tuple[int, ...]] = {}

    def stored(self, record_ids: Iterable[str]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        get = self._versions.get
        for record_id in record_ids:
            versions = get(record_id)
            if versions is not None:
                found[record_id] = {versions} if type(versions) is int else set(versions)
        return found

    def add_all(self, keys: Iterable[tuple[str, int]]) -> None:
        """Add these (record_id, version) keys (one loop: a call per key cost a tenth of
        the first load's bookkeeping)."""
        versions_of = self._versions
        for record_id, version in keys:
            versions = versions_of.get(record_id)
            if versions is None:
                versions_of[record_id] = version
            elif type(versions) is int:
                if versions != version:
                    versions_of[record_id] = (versions, version)
            elif version not in versions:
                versions_of[record_id] = (*versions, version)


class FirstLoad:
    """A run's load of raw.<entity> that was empty when the run took the entity's lock: one
    transaction (a run that fails stores nothing, readers see all of it or none) that writes
    the table the cheapest way PostgreSQL offers (`begin` to `finish`):
    - the table is truncated first, so its rows go to a new file: under wal_level minimal
      (the local cluster) they are not written to the WAL, and COPY FREEZE writes them frozen
      and visible, so that no vacuum has to pass over them later;
    - the primary key and indexes are dropped, and built at the end by one sort each;
    - the versions stored are the run's own (`versions`), not looked up in the table;
    - what needs the key waits for it: the flags of records given a version beside one of an
      earlier chunk are recomputed, and versions received again after their chunk (counted
      duplicates or conflicts) are merged, in `finish`.
    It begins with the first chunk that has a version to store (`begin`, called by
    load_records), so that an entity with nothing to store never drops its indexes. Readers of
    the table wait until the transaction ends (the truncate's lock); rows carry its start as
    loaded_at, so a first load must end within dbt's incremental_change_margin_hours (one hour;
    the 600 k district's whole initial ingest takes about a minute). A run that fails, here or
    in the chunked path, is pulled again from the entity's watermark by the next run."""

    def __init__(
        self, entity: str, batch_id: str, extracted_at: datetime, source: str = "api"
    ) -> None:
        self.entity, self.table = entity, table_name(entity)
        self.batch_id, self.extracted_at, self.source = batch_id, extracted_at, source
        self.versions = LoadedVersions()
        #: records whose flags were computed without a version stored by an earlier chunk
        self.stale_flags: set[str] = set()
        #: versions received again after the chunk that stored them
        self.repeats: list[ValidRecord] = []
        #: the name of the primary key `begin` dropped (None: not begun)
        self.primary_key: str | None = None

    def begin(self, conn: psycopg.Connection) -> None:
        """Empty the table in this transaction and drop its key and indexes (once)."""
        if self.primary_key is not None:
            return
        table = self.table
        conn.execute(f"truncate raw.{table}")
        row = conn.execute(
            "select conname from pg_constraint where conrelid = %s::regclass and contype = 'p'",
            (f"raw.{table}",),
        ).fetchone()
        self.primary_key = row[0] if row else f"{table}_pkey"
        if row:
            conn.execute(
                sql.SQL("alter table {t} drop constraint {k}").format(
                    t=sql.Identifier("raw", table), k=sql.Identifier(self.primary_key)
                )
            )
        for name in ENTITY_INDEXES:
            conn.execute(f"drop index if exists raw.{table}_{name}")

    def finish(self, conn: psycopg.Connection) -> LoadCounts:
        """Build the key and indexes, recompute stale flags and merge the repeats; the counts
        of the repeats (their `received` was counted with their chunk). Nothing when the run
        stored nothing (never begun)."""
        if self.primary_key is None:
            return LoadCounts()
        table = self.table
        identifier = sql.Identifier("raw", table)
        conn.execute(
            sql.SQL("alter table {t} add constraint {k} primary key ({c})").format(
                t=identifier,
                k=sql.Identifier(self.primary_key),
                c=sql.SQL(", ").join(map(sql.Identifier, raw_tables.ENTITY_PRIMARY_KEY)),
            )
        )
        conn.execute(ENTITY_INDEX_DDL.format(table=table))
        if self.stale_flags:
            _refresh_latest_flags(conn, identifier, sorted(self.stale_flags))
        counts = LoadCounts()
        if self.repeats:
            conflicting = _merge_staged(
                conn, identifier, self.repeats, self.batch_id, self.extracted_at, counts
            )
            _quarantine_conflicts(
                conn, self.entity, self.source, self.batch_id, conflicting, counts
            )
        return counts


def ensure_ops_tables(conn: psycopg.Connection) -> None:
    """Create the bookkeeping tables; serialised, since parallel tasks race on `if not exists`."""
    conn.execute(DDL_LOCK)
    conn.execute(OPS_DDL)
    conn.execute(OPS_MIGRATIONS)


def ensure_entity_table(conn: psycopg.Connection, entity: str) -> None:
    conn.execute(DDL_LOCK)
    table = table_name(entity)
    conn.execute(ENTITY_MIGRATIONS.format(table=table))
    conn.execute(ENTITY_TABLE_DDL.format(table=table))


def payload_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_records(
    conn: psycopg.Connection,
    entity: str,
    batch_id: str,
    extracted_at: datetime,
    valid: Iterable[ValidRecord],
    rejected: Iterable[RejectedRecord],
    source: str = "api",
    first_load: FirstLoad | None = None,
) -> LoadCounts:
    """Merge one chunk into raw.<entity> and raw.quarantine; caller owns the transaction.

    Versions not stored yet are COPYed straight into raw.<entity> with their flags computed
    here; only versions already stored (replays, conflicts) pass through a staging table, and
    only records that gained a version beside stored ones have their flags recomputed in SQL.
    `first_load`: the run's FirstLoad when the table was empty (begun here with the first
    version to store): the chunk's versions stored before are then left to its `finish` (and
    counted there, received excepted).
    """
    table = sql.Identifier("raw", table_name(entity))
    _utf8_session(conn)
    counts = LoadCounts()
    conflicting = _merge_valid(conn, table, list(valid), batch_id, extracted_at, counts, first_load)
    _quarantine_conflicts(conn, entity, source, batch_id, conflicting, counts)
    for rej in rejected:
        counts.received += 1
        if _quarantine(conn, entity, source, batch_id, rej.reason, rej.payload_text, rej.record_id):
            counts.quarantined += 1
        else:
            counts.duplicates += 1
    return counts


def _utf8_session(conn: psycopg.Connection) -> None:
    """The COPY lines are UTF-8 bytes, sent as they are: the session must read them as UTF-8
    whatever the environment set (PGCLIENTENCODING)."""
    if conn.info.encoding != "utf-8":
        conn.execute("set client_encoding to 'UTF8'")


def _quarantine_conflicts(
    conn: psycopg.Connection,
    entity: str,
    source: str,
    batch_id: str,
    conflicting: list[tuple[str, str]],
    counts: LoadCounts,
) -> None:
    """Quarantine the conflicting versions (record_id, payload text) and count them."""
    for record_id, payload in conflicting:
        quarantined = _quarantine(
            conn, entity, source, batch_id, "conflicting_version", payload, record_id
        )
        counts.conflicts += quarantined
        counts.duplicates += not quarantined


def _merge_valid(
    conn: psycopg.Connection,
    table: sql.Identifier,
    valid: list[ValidRecord],
    batch_id: str,
    extracted_at: datetime,
    counts: LoadCounts,
    first_load: FirstLoad | None = None,
) -> list[tuple[str, str]]:
    """Store the chunk's new versions and count the rest; returns the conflicting versions
    as (record_id, payload text)."""
    counts.received += len(valid)
    counts.deletions += sum(r.deleted for r in valid)
    firsts: dict[tuple[str, int], ValidRecord] = {}
    repeats: list[ValidRecord] = []
    for rec in valid:
        key = (rec.record_id, rec.version)
        if key in firsts:
            repeats.append(rec)
        else:
            firsts[key] = rec
    if not firsts:
        return []
    record_ids = list({record_id for record_id, _ in firsts})
    if first_load is None:
        stored = _stored_versions(conn, table, record_ids)
    else:
        stored = first_load.versions.stored(record_ids)
        first_load.versions.add_all(firsts)  # stored once this chunk is merged

    def is_stored(rec: ValidRecord) -> bool:
        return rec.version in stored.get(rec.record_id, ())

    if stored:
        fresh = [r for r in firsts.values() if not is_stored(r)]
        known = [r for r in (*firsts.values(), *repeats) if is_stored(r)]
    else:  # most chunks: nothing stored before (a check per record spared)
        fresh, known = list(firsts.values()), []
    conflicting: list[tuple[str, str]] = []
    for rec in repeats:
        if not is_stored(rec):
            _classify_repeat(firsts[(rec.record_id, rec.version)], rec, counts, conflicting)
    if first_load is not None:  # nothing else writes the table: no conflict, no savepoint
        if fresh:
            first_load.begin(conn)
        _copy_lines(conn, table, fresh, batch_id, extracted_at, freeze=True)
        counts.loaded += len(fresh)
        first_load.stale_flags.update(r.record_id for r in fresh if r.record_id in stored)
        first_load.repeats += known
        return conflicting
    if _copy_fresh(conn, table, fresh, stored, batch_id, extracted_at):
        counts.loaded += len(fresh)
    else:
        known += fresh  # a concurrent load stored some of them meanwhile
    if known:
        conflicting += _merge_staged(conn, table, known, batch_id, extracted_at, counts)
    return conflicting


def _classify_repeat(
    first: ValidRecord, rec: ValidRecord, counts: LoadCounts, conflicting: list[tuple[str, str]]
) -> None:
    """A version repeated within the chunk: a duplicate of the first, or a conflict."""
    if same_content(first.content(), rec.content()):
        counts.duplicates += 1
    else:
        conflicting.append((rec.record_id, _sorted_json(rec.content())))


def _sorted_json(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def _stored_versions(
    conn: psycopg.Connection, table: sql.Identifier, record_ids: list[str]
) -> dict[str, set[int]]:
    """The stored versions of these records: one scan of the primary key for them all, with
    or without the table's statistics (measured: 1.2 us per absent record, 3.7 per present)."""
    stored: dict[str, set[int]] = {}
    rows = conn.execute(
        sql.SQL("select record_id, version from {t} where record_id = " + _IDS).format(t=table),
        {"ids": json.dumps(record_ids, ensure_ascii=False)},  # C-fast, unlike a list parameter
    )
    for record_id, version in rows:
        stored.setdefault(record_id, set()).add(version)
    return stored


def copy_escape(data: bytes) -> bytes:
    """UTF-8 `data` as a field of COPY's text format. Four scans for a byte value (a memchr
    each) beat one regex, and a bytes needle, fourfold."""
    if 92 in data or 10 in data or 13 in data or 9 in data:  # \\ \n \r \t
        data = data.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
        data = data.replace(b"\t", b"\\t")
    return data


def copy_text(text: str) -> bytes:
    """`text` as a field of COPY's text format."""
    return copy_escape(text.encode("utf-8"))


#: COPY's text-format NULL
COPY_NULL = b"\\N"


def _issues_field(rec: ValidRecord) -> bytes:
    """field_issues as a COPY field."""
    issues = rec.field_issues_json()
    return copy_text(issues) if issues else COPY_NULL


def _updated_at_field(rec: ValidRecord) -> bytes:
    """updated_at as a COPY field: the text received when a COPY can take it as is."""
    return (rec.updated_at_text or rec.updated_at.isoformat()).encode("ascii")


def _write_blocks(copy: psycopg.Copy, lines: Iterator[bytes], block: int = 2000) -> None:
    """Send COPY lines in blocks of `block` rows."""
    buffer: list[bytes] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= block:
            copy.write(b"".join(buffer))
            buffer.clear()
    if buffer:
        copy.write(b"".join(buffer))


def _fresh_flags(
    fresh: list[ValidRecord],
) -> Iterator[tuple[ValidRecord, bool, bool]]:
    """Each new version with is_latest / is_deleted among the chunk's versions of its record."""
    newest: dict[str, ValidRecord] = {}
    for rec in fresh:
        top = newest.get(rec.record_id)
        if top is None or rec.version > top.version:
            newest[rec.record_id] = rec
    for rec in fresh:
        top = newest[rec.record_id]
        yield rec, top is rec, rec.deleted or top.deleted


#: COPY text of False and True
_FLAGS = (b"f", b"t")


def _fresh_lines(fresh: list[ValidRecord], tail: bytes) -> Iterator[bytes]:
    """COPY lines of new versions for raw.<entity>; `tail` holds batch_id and extracted_at
    (built as bytes, so a clean record's payload is never decoded or encoded)."""
    for rec, latest, deleted in _fresh_flags(fresh):
        yield b"%b\t%d\t%b\t%b\t%b\t%b\t%b\t%b\n" % (
            copy_text(rec.record_id),
            rec.version,
            _updated_at_field(rec),
            _FLAGS[deleted],
            _FLAGS[latest],
            copy_escape(rec.payload_copy_bytes()),
            _issues_field(rec),
            tail,
        )


def _staged_lines(rows: list[ValidRecord]) -> Iterator[bytes]:
    """COPY lines for the staging table, numbered in the order received."""
    for seq, rec in enumerate(rows):
        yield b"%d\t%b\t%d\t%b\t%b\t%b\t%b\n" % (
            seq,
            copy_text(rec.record_id),
            rec.version,
            _updated_at_field(rec),
            _FLAGS[rec.deleted],
            copy_escape(rec.payload_copy_bytes()),
            _issues_field(rec),
        )


def _copy_lines(
    conn: psycopg.Connection,
    table: sql.Identifier,
    fresh: list[ValidRecord],
    batch_id: str,
    extracted_at: datetime,
    freeze: bool = False,
) -> None:
    """COPY new versions into raw.<entity>; `freeze`: written frozen (the table was truncated
    in this transaction)."""
    if not fresh:
        return
    tail = copy_text(batch_id) + b"\t" + extracted_at.isoformat().encode("ascii")
    statement = sql.SQL(
        "copy {t} (record_id, version, source_updated_at, is_deleted, is_latest, payload,"
        " field_issues, batch_id, extracted_at) from stdin" + (" (freeze)" if freeze else "")
    ).format(t=table)
    with conn.cursor().copy(statement) as copy:
        _write_blocks(copy, _fresh_lines(fresh, tail))


def _copy_fresh(
    conn: psycopg.Connection,
    table: sql.Identifier,
    fresh: list[ValidRecord],
    stored: dict[str, set[int]],
    batch_id: str,
    extracted_at: datetime,
) -> bool:
    """COPY versions not stored yet into raw.<entity>; False (nothing written) when one was
    stored meanwhile by a concurrent load."""
    if not fresh:
        return True
    try:
        with conn.transaction():
            _copy_lines(conn, table, fresh, batch_id, extracted_at)
    except psycopg.errors.UniqueViolation:
        return False
    beside_stored = sorted({r.record_id for r in fresh if r.record_id in stored})
    if beside_stored:
        _refresh_latest_flags(conn, table, beside_stored)
    return True


def _merge_staged(
    conn: psycopg.Connection,
    table: sql.Identifier,
    rows: list[ValidRecord],
    batch_id: str,
    extracted_at: datetime,
    counts: LoadCounts,
) -> list[tuple[str, str]]:
    """Merge versions that may be stored already through a staging table: the first content
    received is kept. Counts loaded and duplicates; returns the conflicting versions."""
    conn.execute(
        "create temp table if not exists _incoming ("
        " seq bigint, record_id text, version integer, source_updated_at timestamptz,"
        " is_deleted boolean, payload jsonb, field_issues jsonb) on commit drop"
    )
    conn.execute("truncate _incoming")
    with conn.cursor().copy(
        "copy _incoming (seq, record_id, version, source_updated_at, is_deleted, payload,"
        " field_issues) from stdin"
    ) as copy:
        _write_blocks(copy, _staged_lines(rows))
    inserted = conn.execute(
        sql.SQL(
            "insert into {t} (record_id, version, source_updated_at, is_deleted, payload,"
            " field_issues, batch_id, extracted_at)"
            " select record_id, version, source_updated_at, is_deleted, payload, field_issues,"
            "  %s, %s from _incoming order by seq"
            " on conflict (record_id, version) do nothing"
        ).format(t=table),
        (batch_id, extracted_at),
    ).rowcount
    inserted = max(inserted, 0)
    counts.loaded += inserted
    conflicting = [
        (record_id, _sorted_json(received))
        for record_id, received, stored in conn.execute(
            sql.SQL(
                "select i.record_id, i.payload, r.payload from _incoming as i"
                " inner join {t} as r using (record_id, version)"
                " where r.payload <> i.payload order by i.seq"
            ).format(t=table)
        )
        if not same_content(received, stored)
    ]
    counts.duplicates += len(rows) - inserted - len(conflicting)
    if inserted:
        _refresh_latest_flags(conn, table, sorted({r.record_id for r in rows}))
    return conflicting


def same_content(a: dict, b: dict) -> bool:
    """Whether two payloads of one (record_id, version) say the same: absent, null and empty
    fields are alike, numbers compare by value and `deleted: false` is the default (the monthly
    XLSX export omits the flag and empty cells)."""

    def canonical(payload: dict) -> dict:
        return {
            k: v
            for k, v in payload.items()
            if v is not None and v != "" and not (k == "deleted" and v is False)
        }

    return canonical(a) == canonical(b)


def _quarantine(
    conn: psycopg.Connection,
    entity: str,
    source: str,
    batch_id: str,
    reason: str,
    payload_text: str,
    record_id: str | None,
) -> bool:
    """Keep a row that cannot be stored; False when the same row was quarantined before."""
    added = conn.execute(
        "insert into raw.quarantine (entity, source, batch_id, record_id, reason, payload,"
        " payload_sha256) values (%s, %s, %s, %s, %s, %s, %s)"
        " on conflict (entity, payload_sha256) do nothing",
        (entity, source, batch_id, record_id, reason, payload_text, payload_hash(payload_text)),
    ).rowcount
    return bool(added)


#: `record_id = any(...)` over a JSON array of ids: an index scan of raw.<entity> whatever
#: its statistics say (a join with an unanalysed table was planned as a scan of all of it)
_IDS = "any(array(select jsonb_array_elements_text(%(ids)s::jsonb)))"


def _refresh_latest_flags(
    conn: psycopg.Connection, table: sql.Identifier, record_ids: list[str]
) -> None:
    """Recompute is_latest / is_deleted for every version of these records."""
    conn.execute(
        sql.SQL(
            "with versions as ("
            "  select record_id, version,"
            "   coalesce(payload -> 'deleted' = 'true'::jsonb, false) as deleted"
            "  from {t} where record_id = " + _IDS + "),"
            " newest as ("
            "  select distinct on (record_id) record_id, version, deleted from versions"
            "  order by record_id, version desc),"
            " wanted as ("
            "  select v.record_id, v.version, v.version = n.version as latest,"
            "   v.deleted or n.deleted as deleted"
            "  from versions v join newest n using (record_id))"
            " update {t} r set is_latest = w.latest, is_deleted = w.deleted from wanted w"
            " where r.record_id = " + _IDS + " and r.record_id = w.record_id"
            "  and r.version = w.version"
            "  and (r.is_latest <> w.latest or r.is_deleted <> w.deleted)"
        ).format(t=table),
        {"ids": json.dumps(record_ids, ensure_ascii=False)},
    )
