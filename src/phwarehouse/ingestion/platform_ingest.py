"""Incremental extraction of one platform entity into raw.<entity>, with audit and watermark.

A run reads the change feed after the entity's stored watermark (or after `since` for a
backfill), keeps records updated up to the end of its data interval, validates each against the
source contract and commits chunk by chunk. The watermark moves only when the whole run
succeeded, so a run that dies midway is resumed by the next one: rows already loaded are counted
as duplicates, nothing is lost and nothing is stored twice. The first load of an entity (its
table empty) is one transaction instead (raw_store.FirstLoad): a run that dies stores nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from phwarehouse.ingestion import raw_store
from phwarehouse.ingestion.client import PlatformClient
from phwarehouse.ingestion.contracts import contract_for
from phwarehouse.ingestion.overlap import collect_young, collector_paused, read_ahead
from phwarehouse.ingestion.raw_store import LoadCounts, RejectedRecord, ValidRecord
from phwarehouse.ingestion.validation import validate_page

log = logging.getLogger(__name__)

CHUNK_RECORDS = 20_000


@dataclass
class IngestResult:
    entity: str
    batch_id: str
    counts: LoadCounts
    watermark_from: datetime | None
    watermark_to: datetime | None


def read_watermark(conn: psycopg.Connection, entity: str) -> datetime | None:
    row = conn.execute(
        "select source_updated_at from ops.watermarks where entity = %s", (entity,)
    ).fetchone()
    return row[0] if row else None


def close_abandoned_audits(conn: psycopg.Connection, entity: str, batch_id: str) -> int:
    """Close as failed the `running` audit rows of `entity` left by a run that died (killed
    task, lost worker): called while holding the entity's lock, so no live run owns them."""
    return conn.execute(
        "update ops.load_audit set status = 'failed', finished_at = now(),"
        " error = 'abandoned: the run ended without finishing (closed by batch ' || %s || ')'"
        " where entity = %s and source = 'api' and status = 'running' and batch_id <> %s",
        (batch_id, entity, batch_id),
    ).rowcount


def record_failed_audit(dsn: str, batch_id: str, entity: str, error: str) -> None:
    """An audit row for a run that failed before it could ingest (e.g. the platform is down)."""
    with psycopg.connect(dsn) as conn:
        raw_store.ensure_ops_tables(conn)
        conn.execute(
            "insert into ops.load_audit (batch_id, entity, source, started_at, finished_at,"
            " status, error) values (%s, %s, 'api', now(), now(), 'failed', %s)"
            " on conflict (batch_id, entity) do update set status = 'failed',"
            " finished_at = now(), error = excluded.error",
            (batch_id, entity, error[:2000]),
        )


def _start_audit(
    conn: psycopg.Connection,
    batch_id: str,
    entity: str,
    start: datetime | None,
    end: datetime,
    since: datetime | None,
) -> None:
    conn.execute(
        "insert into ops.load_audit (batch_id, entity, source, interval_start, interval_end,"
        " watermark_from, started_at, status) values (%s, %s, 'api', %s, %s, %s, now(), 'running')"
        " on conflict (batch_id, entity) do update set started_at = now(), status = 'running',"
        " received = 0, loaded = 0, quarantined = 0, duplicates = 0, conflicts = 0,"
        " deletions = 0,"
        " finished_at = null, error = null, watermark_from = excluded.watermark_from",
        (batch_id, entity, start, end, since),
    )


def _update_audit(
    conn: psycopg.Connection,
    batch_id: str,
    entity: str,
    counts: LoadCounts,
    client: PlatformClient,
    status: str,
    watermark_to: datetime | None = None,
    error: str | None = None,
) -> None:
    conn.execute(
        "update ops.load_audit set received = %s, loaded = %s, quarantined = %s,"
        " duplicates = %s, conflicts = %s, deletions = %s, requests = %s, retries = %s,"
        " status = %s,"
        " watermark_to = coalesce(%s, watermark_to), error = %s,"
        " finished_at = case when %s in ('success', 'failed') then now() end"
        " where batch_id = %s and entity = %s",
        (
            counts.received,
            counts.loaded,
            counts.quarantined,
            counts.duplicates,
            counts.conflicts,
            counts.deletions,
            client.stats.requests,
            client.stats.retries,
            status,
            watermark_to,
            error,
            status,
            batch_id,
            entity,
        ),
    )


def _chunks(
    client: PlatformClient,
    entity: str,
    since: datetime | None,
    until: datetime,
) -> Iterator[tuple[list[ValidRecord], list[RejectedRecord]]]:
    """Validated records of the feed, in chunks; stops at the first record after `until`."""
    # validated within the page's retries: a record that is no UTF-8 has the page fetched again
    validated = functools.partial(validate_page, contract_for(entity))
    valid: list[ValidRecord] = []
    rejected: list[RejectedRecord] = []
    for page in client.pages(entity, since.isoformat() if since else None, validated):
        for result in page.records:
            if isinstance(result, ValidRecord):
                if result.updated_at > until:
                    yield valid, rejected
                    return
                valid.append(result)
            else:
                rejected.append(result)
        if len(valid) + len(rejected) >= CHUNK_RECORDS:
            yield valid, rejected
            valid, rejected = [], []
    yield valid, rejected


def ingest_entity(
    dsn: str,
    client: PlatformClient,
    entity: str,
    batch_id: str,
    interval_end: datetime,
    interval_start: datetime | None = None,
    since: datetime | None = None,
) -> IngestResult:
    """Pull `entity`'s changes up to `interval_end` into raw. `since` overrides the watermark."""
    extracted_at = datetime.now(UTC)
    counts = LoadCounts()
    with psycopg.connect(dsn) as conn:
        # the entity's lock first, holding nothing else: a load of the entity waits for it
        # before its DDL, which would wait for this run's table locks holding the DDL lock
        raw_store.lock_entity(conn, entity)
        raw_store.ensure_ops_tables(conn)
        raw_store.ensure_entity_table(conn, entity)
        conn.commit()
        first_load = (
            raw_store.FirstLoad(entity, batch_id, extracted_at)
            if raw_store.is_empty(conn, entity)
            else None
        )
        abandoned = close_abandoned_audits(conn, entity, batch_id)
        if abandoned:
            log.warning("%s: closed %d abandoned running audit row(s)", entity, abandoned)
        watermark = read_watermark(conn, entity)
        start_from = since if since is not None else watermark
        _start_audit(conn, batch_id, entity, interval_start, interval_end, start_from)
        conn.commit()
        newest: datetime | None = None
        try:  # a first load is one transaction, committed with its watermark at the end
            # the next chunk is fetched and validated while this one is stored
            chunks = read_ahead(_chunks(client, entity, start_from, interval_end))
            with collector_paused(), closing(chunks):
                for valid, rejected in chunks:
                    chunk = raw_store.load_records(
                        conn, entity, batch_id, extracted_at, valid, rejected, first_load=first_load
                    )
                    counts.add(chunk)
                    if valid:
                        top = max(r.updated_at for r in valid)
                        newest = top if newest is None or top > newest else newest
                    if first_load is None:
                        _update_audit(conn, batch_id, entity, counts, client, "running")
                        conn.commit()
                    collect_young()  # the pages' responses are cyclic garbage
            if first_load is not None:
                counts.add(first_load.finish(conn))
            watermark_to = max(filter(None, [watermark, newest]), default=None)
            if watermark_to is not None and watermark_to != watermark:
                conn.execute(
                    "insert into ops.watermarks (entity, source_updated_at, batch_id)"
                    " values (%s, %s, %s) on conflict (entity) do update set"
                    " source_updated_at = excluded.source_updated_at,"
                    " batch_id = excluded.batch_id, updated_at = now()",
                    (entity, watermark_to, batch_id),
                )
            _update_audit(conn, batch_id, entity, counts, client, "success", watermark_to)
            conn.commit()
        except Exception as exc:
            conn.rollback()
            error = str(exc)[:2000]
            if first_load is not None:  # rolled back whole: received, nothing stored
                counts = LoadCounts(received=counts.received)
                error = f"first load rolled back, nothing stored: {error}"[:2000]
            _update_audit(conn, batch_id, entity, counts, client, "failed", error=error)
            conn.commit()
            raise
    log.info("%s %s: %s", entity, batch_id, counts)
    return IngestResult(entity, batch_id, counts, start_from, watermark_to)
