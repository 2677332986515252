"""Airflow notifier: a failed DAG run (or task) alerts the data engineers.

Wired as `on_failure_callback` of every DAG in dags/. Logs the failure, appends it to the
stack's alerts file and e-mails it when SMTP is configured (see `phwarehouse.pipeline.alerts`).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseNotifier

from phwarehouse.pipeline import alerts


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def describe_failure(context: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(subject, body, details) of a failure callback's context (DAG or task level)."""
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    dag_id = _get(dag, "dag_id") or _get(dag_run, "dag_id") or _get(ti, "dag_id") or "?"
    run_id = context.get("run_id") or _get(dag_run, "run_id") or _get(ti, "run_id") or "?"
    details: dict[str, Any] = {"dag_id": dag_id, "run_id": run_id}
    task_id = _get(ti, "task_id")
    if task_id:
        map_index = _get(ti, "map_index")
        details["task_id"] = task_id
        if map_index is not None and map_index >= 0:
            details["map_index"] = map_index
        details["try_number"] = _get(ti, "try_number")
        log_url = _get(ti, "log_url")
        if log_url:
            details["log_url"] = log_url
    if context.get("reason"):
        details["reason"] = str(context["reason"])
    exception = context.get("exception")
    if exception is not None:
        details["exception"] = f"{type(exception).__name__}: {exception}"[:2000]
    where = f"{dag_id}.{task_id}" if task_id and "reason" not in details else dag_id
    subject = f"[phwarehouse] {where} failed (run {run_id})"
    lines = [f"{key}: {value}" for key, value in details.items() if value is not None]
    body = (
        "An Airflow run of the public-health warehouse failed.\n\n"
        + "\n".join(lines)
        + "\n\nThe task logs are in the Airflow UI (log_url) or under the stack's Airflow logs."
    )
    return subject, body, details


class FailureNotifier(BaseNotifier):
    """Log + alerts file + e-mail (when PHW_SMTP_HOST and PHW_ALERT_TO are set)."""

    def notify(self, context: dict[str, Any]) -> None:  # type: ignore[override]
        subject, body, details = describe_failure(context)
        self.log.error("%s", subject)
        alerts.raise_alert(subject, body, kind="airflow_failure", details=details)


def on_failure() -> FailureNotifier:
    """The callback the DAG files pass as `on_failure_callback`."""
    return FailureNotifier()
