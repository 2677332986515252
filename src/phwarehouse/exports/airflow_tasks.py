"""Task bodies of the export DAGs (dags/bulletin_export.py, dags/appraisal_export.py).

The period comes from the run's logical date in the district's time zone (Asia/Shanghai): a
bulletin run on the 1st exports the month that just closed; an appraisal run in November exports
that year. No Airflow import at module level: the functions take plain values and are tested
without a scheduler. The renderers (matplotlib, WeasyPrint, openpyxl) are imported by the task
that uses them, not when the DAG file is parsed (a parse must stay well under Airflow's 30 s
DagBag import timeout on a busy machine).
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from phwarehouse.exports import content, data
from phwarehouse.pipeline import alerts, runtime
from phwarehouse.pipeline.data_cutoff import TZ  # the district's time zone, declared once

BULLETIN_CRON = "0 6 1 * *"  # 06:00 on the 1st, Asia/Shanghai
BULLETIN_DEADLINE = timedelta(days=2, hours=3)  # logical date (1st 06:00) + → the 3rd 09:00
APPRAISAL_CRON = "0 8 1 11 *"  # 08:00 on 1 November, Asia/Shanghai


def bulletin_period(logical_date: datetime) -> tuple[int, int]:
    """The month that closed before the run's day in Asia/Shanghai."""
    local = logical_date.astimezone(TZ).date().replace(day=1) - timedelta(days=1)
    return local.year, local.month


def appraisal_year(logical_date: datetime) -> int:
    return logical_date.astimezone(TZ).year


def _dsn() -> str:
    return runtime.warehouse_dsn("transformer")


def _export_dir() -> Path:
    return Path(os.environ.get("PHW_EXPORT_DIR") or Path(os.environ["PHW_HOME"]) / "exports")


def publication_covers(covers: date) -> tuple[bool, str]:
    """(True, publication id) once the current publication's data reach `covers`."""
    pub = data.published_cutoff(_dsn())
    if pub is None:
        return False, "no publication yet"
    if pub.data_cutoff_date < covers:
        return False, f"{pub.publication_id} has data up to {pub.data_cutoff_date}"
    return True, pub.publication_id


def bulletin_covers(logical_date: datetime) -> tuple[bool, str]:
    year, month = bulletin_period(logical_date)
    return publication_covers(data.month_end(year, month))


def appraisal_covers(logical_date: datetime) -> tuple[bool, str]:
    from phwarehouse.exports import jobs

    return publication_covers(jobs.appraisal_as_of(appraisal_year(logical_date)))


def build_bulletin(logical_date: datetime, say=print) -> dict[str, Any]:
    from phwarehouse.exports import jobs

    year, month = bulletin_period(logical_date)
    result = jobs.build_bulletin(_dsn(), _export_dir(), year, month, say)
    return {"folder": str(result.folder), "title": content.bulletin_title(year, month)}


def build_appraisal(logical_date: datetime, say=print) -> dict[str, Any]:
    from phwarehouse.exports import jobs

    year = appraisal_year(logical_date)
    result = jobs.build_appraisal(_dsn(), _export_dir(), year, jobs.appraisal_as_of(year), say)
    return {"folder": str(result.folder), "title": content.appraisal_title(year)}


def send(built: dict[str, Any], say=print) -> str:
    """E-mail the period's files once (when PHW_SMTP_HOST and PHW_EXPORT_TO are set)."""
    from phwarehouse.exports import delivery, jobs, outbox

    env = os.environ
    if not (env.get("PHW_SMTP_HOST") and delivery.recipients(env)):
        say("e-mail not configured (PHW_SMTP_HOST, PHW_EXPORT_TO): files left in the outbox")
        return "not configured"
    folder = Path(built["folder"])
    manifest = outbox.read_manifest(folder)
    result = jobs.ExportResult(folder, [folder / f["file"] for f in manifest["files"]], manifest)
    record = jobs.deliver(result, built["title"], env, force=False, say=say)
    return "sent" if record else "already sent"


def bulletin_deadline_missed(context: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Deadline alert: the month's bulletin was not delivered by the 3rd 09:00 (Asia/Shanghai)."""
    context = context or {}
    dag_run = context.get("dag_run")
    run_id = getattr(dag_run, "run_id", None) or context.get("run_id") or "?"
    alerts.raise_alert(
        "[phwarehouse] bulletin not delivered by the 3rd 09:00",
        "The monthly bulletin (工作简报) run has not finished by its deadline, the 3rd 09:00 "
        f"Asia/Shanghai (run {run_id}). Check the run in Airflow: is the month published "
        "(quality gate), did the export or the e-mail fail?",
        kind="deadline_missed",
        details={"dag_id": "bulletin_export", "run_id": run_id, **kwargs},
    )
