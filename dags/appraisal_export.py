"""Airflow DAG `appraisal_export`: the annual appraisal (年度考核) of every facility in November.

Runs at 08:00 on 1 November (Asia/Shanghai) for that year: waits until the published marts reach
the as-of date (the end of October by default; PHW_APPRAISAL_AS_OF_MONTH), scores every facility
by the rule of the seed `appraisal_scoring`, writes the XLSX and PDF into the outbox
(`<PHW_EXPORT_DIR>/appraisal/YYYY/`, manifest) and e-mails them once to PHW_EXPORT_TO. Another
year: `phw export appraisal --year YYYY`.
"""

from datetime import datetime, timedelta

from airflow.sdk import PokeReturnValue, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from phwarehouse.exports import airflow_tasks as exports
from phwarehouse.pipeline import notifier
from phwarehouse.pipeline.assets import MARTS


@dag(
    dag_id="appraisal_export",
    schedule=CronTriggerTimetable(exports.APPRAISAL_CRON, timezone="Asia/Shanghai"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    on_failure_callback=notifier.on_failure(),  # log, alerts file, e-mail
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    tags=["exports", "appraisal"],
    doc_md=__doc__,
)
def appraisal_export():
    @task.sensor(poke_interval=60 * 60, timeout=14 * 24 * 3600, mode="reschedule", inlets=[MARTS])
    def wait_for_publication() -> PokeReturnValue:
        ok, what = exports.appraisal_covers(get_current_context()["logical_date"])
        return PokeReturnValue(is_done=ok, xcom_value=what)

    @task
    def build(publication_id: str) -> dict:
        return exports.build_appraisal(get_current_context()["logical_date"])

    @task
    def send(built: dict) -> str:
        return exports.send(built)

    send(build(wait_for_publication()))


appraisal_export()
