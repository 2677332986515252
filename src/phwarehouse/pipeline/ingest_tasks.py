"""Task bodies of the ingestion DAGs: thin wrappers keyed on the run's data interval."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from phwarehouse.ingestion import file_drops, platform_ingest
from phwarehouse.ingestion.client import PlatformError
from phwarehouse.ingestion.contracts import ENTITIES
from phwarehouse.ingestion.raw_store import LoadCounts
from phwarehouse.ingestion.validation import parse_timestamp
from phwarehouse.pipeline import runtime

log = logging.getLogger(__name__)


#: the audit row's entity when the run fails before any entity (the platform does not answer)
ENTITY_LIST = "(entity list)"


def entities_to_ingest(context: dict[str, Any] | None = None) -> list[str]:
    """Entities the platform offers that the warehouse has a contract for (both must agree).
    A platform that does not answer leaves a failed audit row before the task fails."""
    try:
        with runtime.platform_client() as client:
            offered = client.entities()
    except PlatformError as exc:
        if context is None:
            from airflow.sdk import get_current_context

            context = dict(get_current_context())
        platform_ingest.record_failed_audit(
            runtime.warehouse_dsn("loader"), batch_id(context), ENTITY_LIST, str(exc)
        )
        raise
    unknown = sorted(set(offered) - set(ENTITIES))
    if unknown:
        log.warning("platform offers entities without a contract, not ingested: %s", unknown)
    missing = sorted(set(ENTITIES) - set(offered))
    if missing:
        raise RuntimeError(f"platform no longer offers contracted entities: {missing}")
    return [e for e in ENTITIES if e in offered]


def batch_id(context: dict[str, Any]) -> str:
    ti = context["ti"]
    return f"{context['dag_run'].run_id}#{ti.try_number}"


def interval(context: dict[str, Any]) -> tuple[datetime | None, datetime]:
    start = context.get("data_interval_start")
    end = context.get("data_interval_end") or context.get("logical_date") or datetime.now(UTC)
    return start, end


def ingest_entity(entity: str, context: dict[str, Any]) -> dict[str, Any]:
    """Pull one entity for the run's interval. A backfill run (or param `since`) re-pulls."""
    start, end = interval(context)
    since = parse_timestamp((context.get("params") or {}).get("since") or "")
    run_type = str(getattr(context["dag_run"], "run_type", ""))
    if since is None and "backfill" in run_type.lower() and start is not None:
        since = start
    with runtime.platform_client() as client:
        result = platform_ingest.ingest_entity(
            runtime.warehouse_dsn("loader"), client, entity, batch_id(context), end, start, since
        )
    counts = result.counts
    if not counts.reconciles:
        raise RuntimeError(f"{entity}: counts do not reconcile: {counts}")
    return {"entity": entity, **asdict(counts)}


def summarise(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = LoadCounts()
    for row in results:
        counts.add(LoadCounts(**{k: int(row[k]) for k in asdict(counts)}))
    total = asdict(counts)
    if not counts.reconciles:
        raise RuntimeError(f"batch totals do not reconcile: {total}")
    log.info("platform batch: %s", total)
    return total


def ingest_file_drops(context: dict[str, Any]) -> list[dict[str, Any]]:
    """Load every good drop file; a bad one is set aside (file_drops) and reported by
    `check_file_drops`, so the good ones still reach the transform. Raises (and so is retried)
    only when a file had to be deferred or the warehouse failed."""
    results = file_drops.ingest_drop_folder(
        runtime.warehouse_dsn("loader"), runtime.drop_dir(), context["dag_run"].run_id
    )
    out = []
    for r in results:
        if not r.counts.reconciles:
            raise RuntimeError(f"{r.path.name}: counts do not reconcile: {r.counts}")
        for note in r.notes:
            log.warning("%s: %s", r.path.name, note)
        if r.reason:
            log.error("%s", r.reason)
        out.append(
            {
                "file": r.path.name,
                "kind": r.kind,
                "status": r.status,
                "skipped": r.skipped,
                "reason": r.reason,
                **asdict(r.counts),
            }
        )
    log.info("file drops: %s", out)
    deferred = [r.reason for r in results if r.status == "deferred"]
    if deferred:
        raise RuntimeError(f"{len(deferred)} drop file(s) deferred: " + " | ".join(deferred))
    return out


def check_file_drops(context: dict[str, Any]) -> None:
    """Fail the run, without retrying, when a drop file of this run (any try) was set aside
    into the quarantine folder: the run turns red and the failure notification names them."""
    from airflow.sdk.exceptions import AirflowFailException

    set_aside = file_drops.set_aside_in_run(
        runtime.warehouse_dsn("loader"), context["dag_run"].run_id
    )
    if set_aside:
        raise AirflowFailException(
            f"{len(set_aside)} drop file(s) set aside into the quarantine folder (the other"
            " files were loaded): " + " | ".join(set_aside)
        )
