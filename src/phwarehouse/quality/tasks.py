"""Task bodies of the quality gate for the Airflow DAGs (the DAG files only wire them)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

from phwarehouse.pipeline import runtime
from phwarehouse.quality import gate, publish


class QualityGateFailed(RuntimeError):
    """An error-level check failed: the candidate marts are not published."""


def readers() -> list[str]:
    """Roles that read the published marts (Superset's BI role)."""
    return [os.environ.get("WAREHOUSE_BI_USER", "phw_bi_reader")]


def quality_dsn() -> str:
    """The quality role's connection; the transformer's on a worker started before that role
    existed (restart Airflow to give it WAREHOUSE_QUALITY_USER / _PASSWORD)."""
    if os.environ.get("WAREHOUSE_QUALITY_USER") and os.environ.get("WAREHOUSE_QUALITY_PASSWORD"):
        return runtime.warehouse_dsn("quality")
    print("WARNING: no WAREHOUSE_QUALITY_* on this worker: the checks run as the transformer")
    return runtime.warehouse_dsn("transformer")


def validate_candidate(cutoff: date | str | None = None) -> dict[str, object]:
    """Run the checks; fail (naming the failed checks and counts) when an error-level one fails.

    `cutoff`: the run's data cut-off, the one dbt built with (ISO string from the DAG's template,
    `phwarehouse.pipeline.data_cutoff`); the publication records the same date."""
    if isinstance(cutoff, str):
        cutoff = date.fromisoformat(cutoff)
    project = Path(os.environ.get("PHW_GX_PROJECT_DIR") or gate.PROJECT_DIR)
    dsn = quality_dsn()
    publish.grant_candidate(runtime.warehouse_dsn("transformer"), [_user_of(dsn)])
    result = gate.run_gate(dsn, cutoff, project)
    print(result.summary())
    print(f"GX Data Docs: {result.data_docs}")
    if not result.passed:
        raise QualityGateFailed(
            "quality gate failed, marts not published (the published marts are unchanged):\n"
            + result.summary()
        )
    return {
        "run_id": result.run_id,
        "data_cutoff_date": result.data_cutoff_date.isoformat(),
        "checks_run": len(result.results),
        "warnings": len(result.failed_warnings),
        "data_docs": str(result.data_docs),
    }


def publish_candidate(gate_result: dict[str, object]) -> str:
    """Publish the validated candidate; returns the publication id."""
    published = publish.publish(
        runtime.warehouse_dsn("transformer"),
        date.fromisoformat(str(gate_result["data_cutoff_date"])),
        readers(),
        checks_run=int(gate_result["checks_run"]),  # type: ignore[arg-type]
        warnings=int(gate_result["warnings"]),  # type: ignore[arg-type]
        note=f"quality gate run {gate_result['run_id']}",
    )
    gate.record_publication(quality_dsn(), str(gate_result["run_id"]), published.publication_id)
    print(f"published {published.publication_id} (data cut-off {published.data_cutoff_date})")
    return published.publication_id


def _user_of(dsn: str) -> str:
    return unquote(urlsplit(dsn).username or "")


def change_publication(action: str) -> str:
    """`rollback` to the previous publication or `republish` the rolled-back one."""
    dsn = runtime.warehouse_dsn("transformer")
    if action == "rollback":
        return publish.rollback(dsn, readers())
    if action == "republish":
        return publish.republish(dsn, readers())
    raise ValueError(f"unknown action {action!r}: rollback or republish")
