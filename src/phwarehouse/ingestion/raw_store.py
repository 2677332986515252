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
    field_issues jsonb,
    batch_id text not null,
    extracted_at timestamptz not null,
    loaded_at timestamptz not null default now(),
    primary key (record_id, version)
);
create index if not exists {table}_latest_idx on raw.{table} (record_id) where is_latest;
create index if not exists {table}_updated_idx on raw.{table} (source_updated_at);
create index if not exists {table}_loaded_idx on raw.{table} (loaded_at);
create index if not exists {table}_issues_idx on raw.{table} (record_id)
    where field_issues is not null;
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
    if not exists (
        select 1 from information_schema.columns
        where table_schema = 'ops' and table_name = 'load_audit' and column_name = 'conflicts'
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
    if exists (
        select 1 from information_schema.tables
        where table_schema = 'raw' and table_name = '{table}'
    ) and not exists (
        select 1 from information_schema.columns
        where table_schema = 'raw' and table_name = '{table}' and column_name = 'field_issues'
    ) then
        alter table raw.{table} add column field_issues jsonb;
    end if;
end $$;
"""


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


@dataclass(frozen=True)
class ValidRecord:
    record_id: str
    version: int
    updated_at: datetime
    deleted: bool
    payload: dict
    field_issues: tuple[FieldIssue, ...] = ()

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
) -> LoadCounts:
    """COPY one chunk into raw.<entity> and raw.quarantine; caller owns the transaction."""
    table = sql.Identifier("raw", table_name(entity))
    counts = LoadCounts()
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
        for seq, rec in enumerate(valid):
            counts.received += 1
            counts.deletions += rec.deleted
            copy.write_row(
                (
                    seq,
                    rec.record_id,
                    rec.version,
                    rec.updated_at,
                    rec.deleted,
                    json.dumps(rec.payload, ensure_ascii=False),
                    rec.field_issues_json(),
                )
            )
    if counts.received:
        # the first content received for a (record_id, version) is the one kept
        inserted = conn.execute(
            sql.SQL(
                "insert into {t} (record_id, version, source_updated_at, is_deleted, payload,"
                " field_issues, batch_id, extracted_at)"
                " select distinct on (record_id, version) record_id, version, source_updated_at,"
                "  is_deleted, payload, field_issues, %s, %s from _incoming"
                " order by record_id, version, seq"
                " on conflict (record_id, version) do nothing"
            ).format(t=table),
            (batch_id, extracted_at),
        ).rowcount
        counts.loaded = max(inserted, 0)
        conflicting = [
            (record_id, json.dumps(received, ensure_ascii=False, sort_keys=True))
            for record_id, received, stored in conn.execute(
                sql.SQL(
                    "select i.record_id, i.payload, r.payload from _incoming as i"
                    " inner join {t} as r using (record_id, version)"
                    " where r.payload <> i.payload order by i.seq"
                ).format(t=table)
            )
            if not same_content(received, stored)
        ]
        counts.duplicates = counts.received - counts.loaded - len(conflicting)
        _refresh_latest_flags(conn, table)
        for record_id, payload in conflicting:
            quarantined = _quarantine(
                conn, entity, source, batch_id, "conflicting_version", payload, record_id
            )
            counts.conflicts += quarantined
            counts.duplicates += not quarantined

    for rej in rejected:
        counts.received += 1
        if _quarantine(conn, entity, source, batch_id, rej.reason, rej.payload_text, rej.record_id):
            counts.quarantined += 1
        else:
            counts.duplicates += 1
    return counts


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


def _refresh_latest_flags(conn: psycopg.Connection, table: sql.Composed) -> None:
    """Recompute is_latest / is_deleted for the records of this chunk only."""
    conn.execute(
        sql.SQL(
            "with ids as (select distinct record_id from _incoming),"
            " newest as ("
            "  select distinct on (r.record_id) r.record_id, r.version,"
            "   coalesce(r.payload -> 'deleted' = 'true'::jsonb, false) as deleted"
            "  from {t} r join ids using (record_id)"
            "  order by r.record_id, r.version desc),"
            " wanted as ("
            "  select r.record_id, r.version, r.version = n.version as latest,"
            "   coalesce(r.payload -> 'deleted' = 'true'::jsonb, false) or n.deleted as deleted"
            "  from {t} r join newest n using (record_id))"
            " update {t} r set is_latest = w.latest, is_deleted = w.deleted"
            " from wanted w where r.record_id = w.record_id and r.version = w.version"
            "  and (r.is_latest <> w.latest or r.is_deleted <> w.deleted)"
        ).format(t=table)
    )
