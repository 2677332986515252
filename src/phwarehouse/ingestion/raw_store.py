"""The raw schema: every version of every platform record, landed by COPY, idempotently.

`raw.<entity>` keeps one row per (record_id, version) with the payload as received (JSONB) and
load metadata. Re-loading a version already present changes nothing, so replaying a batch or
re-running an interval is a no-op. `is_latest` marks the newest version of each record and
`is_deleted` marks every version of a record whose newest version is a platform tombstone.
Rows breaking the source contract go to `raw.quarantine` (unique on entity + payload hash).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

ENTITY_TABLE_DDL = """
create table if not exists raw.{table} (
    record_id text not null,
    version integer not null,
    source_updated_at timestamptz not null,
    is_deleted boolean not null default false,
    is_latest boolean not null default true,
    payload jsonb not null,
    batch_id text not null,
    extracted_at timestamptz not null,
    loaded_at timestamptz not null default now(),
    primary key (record_id, version)
);
create index if not exists {table}_latest_idx on raw.{table} (record_id) where is_latest;
create index if not exists {table}_updated_idx on raw.{table} (source_updated_at);
create index if not exists {table}_loaded_idx on raw.{table} (loaded_at);
"""

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
    deletions bigint not null default 0,
    requests integer not null default 0,
    retries integer not null default 0,
    error text,
    primary key (batch_id, entity),
    constraint load_audit_reconciles check (
        status <> 'success' or received = loaded + quarantined + duplicates
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


@dataclass
class LoadCounts:
    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    deletions: int = 0

    def add(self, other: LoadCounts) -> None:
        self.received += other.received
        self.loaded += other.loaded
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates
        self.deletions += other.deletions

    @property
    def reconciles(self) -> bool:
        return self.received == self.loaded + self.quarantined + self.duplicates


@dataclass(frozen=True)
class ValidRecord:
    record_id: str
    version: int
    updated_at: datetime
    deleted: bool
    payload: dict


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


def ensure_ops_tables(conn: psycopg.Connection) -> None:
    """Create the bookkeeping tables; serialised, since parallel tasks race on `if not exists`."""
    conn.execute(DDL_LOCK)
    conn.execute(OPS_DDL)


def ensure_entity_table(conn: psycopg.Connection, entity: str) -> None:
    conn.execute(DDL_LOCK)
    conn.execute(ENTITY_TABLE_DDL.format(table=table_name(entity)))


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
) -> LoadCounts:
    """COPY one chunk into raw.<entity> and raw.quarantine; caller owns the transaction."""
    table = sql.Identifier("raw", table_name(entity))
    counts = LoadCounts()
    conn.execute(
        "create temp table if not exists _incoming ("
        " record_id text, version integer, source_updated_at timestamptz,"
        " is_deleted boolean, payload jsonb) on commit drop"
    )
    conn.execute("truncate _incoming")
    touched: set[str] = set()
    with conn.cursor().copy(
        "copy _incoming (record_id, version, source_updated_at, is_deleted, payload) from stdin"
    ) as copy:
        for rec in valid:
            counts.received += 1
            counts.deletions += rec.deleted
            touched.add(rec.record_id)
            copy.write_row(
                (
                    rec.record_id,
                    rec.version,
                    rec.updated_at,
                    rec.deleted,
                    json.dumps(rec.payload, ensure_ascii=False),
                )
            )
    valid_received = counts.received
    inserted = conn.execute(
        sql.SQL(
            "insert into {t} (record_id, version, source_updated_at, is_deleted, payload,"
            " batch_id, extracted_at)"
            " select distinct on (record_id, version) record_id, version, source_updated_at,"
            "  is_deleted, payload, %s, %s from _incoming order by record_id, version"
            " on conflict (record_id, version) do nothing"
        ).format(t=table),
        (batch_id, extracted_at),
    ).rowcount
    counts.loaded = max(inserted, 0)
    counts.duplicates = valid_received - counts.loaded
    if touched:
        _refresh_latest_flags(conn, table)

    for rej in rejected:
        counts.received += 1
        added = conn.execute(
            "insert into raw.quarantine (entity, source, batch_id, record_id, reason, payload,"
            " payload_sha256) values (%s, %s, %s, %s, %s, %s, %s)"
            " on conflict (entity, payload_sha256) do nothing",
            (
                entity,
                source,
                batch_id,
                rej.record_id,
                rej.reason,
                rej.payload_text,
                payload_hash(rej.payload_text),
            ),
        ).rowcount
        if added:
            counts.quarantined += 1
        else:
            counts.duplicates += 1
    return counts


def _refresh_latest_flags(conn: psycopg.Connection, table: sql.Composed) -> None:
    """Recompute is_latest / is_deleted for the records of this chunk only."""
    conn.execute(
        sql.SQL(
            "with ids as (select distinct record_id from _incoming),"
            " newest as ("
            "  select distinct on (r.record_id) r.record_id, r.version,"
            "   coalesce((r.payload ->> 'deleted')::boolean, false) as deleted"
            "  from {t} r join ids using (record_id)"
            "  order by r.record_id, r.version desc),"
            " wanted as ("
            "  select r.record_id, r.version, r.version = n.version as latest,"
            "   coalesce((r.payload ->> 'deleted')::boolean, false) or n.deleted as deleted"
            "  from {t} r join newest n using (record_id))"
            " update {t} r set is_latest = w.latest, is_deleted = w.deleted"
            " from wanted w where r.record_id = w.record_id and r.version = w.version"
            "  and (r.is_latest <> w.latest or r.is_deleted <> w.deleted)"
        ).format(t=table)
    )
