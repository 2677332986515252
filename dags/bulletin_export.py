"""Airflow DAG `bulletin_export`: the monthly bulletin (工作简报) for the commission by the 3rd.

Runs at 06:00 on the 1st (Asia/Shanghai) for the month that just closed: waits (rescheduling,
every 30 min) until the quality gate has published marts whose data cut-off reaches the month's
end, writes the XLSX and PDF into the outbox (`<PHW_EXPORT_DIR>/bulletin/YYYY-MM/`, manifest),
then e-mails them once to PHW_EXPORT_TO. A deadline alert fires when the run has not finished by
the 3rd 09:00 (Asia/Shanghai); failures alert through the notifier. Backfill an earlier month by
triggering a run with that month's logical date, or `phw export bulletin --month YYYY-MM`.
"""

from datetime import datetime, timedelta

from airflow.sdk import (
    DeadlineAlert,
    DeadlineReference,
    PokeReturnValue,
    SyncCallback,
    dag,
    get_current_context,
    task,
)
from airflow.timetables.trigger import CronTriggerTimetable

from phwarehouse.exports import airflow_tasks as exports
from phwarehouse.pipeline import notifier
from phwarehouse.pipeline.assets import MARTS


@dag(
    dag_id="bulletin_export",
    schedule=CronTriggerTimetable(exports.BULLETIN_CRON, timezone="Asia/Shanghai"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    on_failure_callback=notifier.on_failure(),  # log, alerts file, e-mail
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=exports.BULLETIN_DEADLINE,
        callback=SyncCallback(exports.bulletin_deadline_missed),
    ),
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    tags=["exports", "bulletin"],
    doc_md=__doc__,
)
def bulletin_export():
    @task.sensor(poke_interval=30 * 60, timeout=3 * 24 * 3600, mode="reschedule", inlets=[MARTS])
    def wait_for_publication() -> PokeReturnValue:
        ok, what = exports.bulletin_covers(get_current_context()["logical_date"])
        return PokeReturnValue(is_done=ok, xcom_value=what)

    @task
    def build(publication_id: str) -> dict:
        return exports.build_bulletin(get_current_context()["logical_date"])

    @task
    def send(built: dict) -> str:
        return exports.send(built)

    send(build(wait_for_publication()))


bulletin_export()
