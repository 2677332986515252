"""Airflow DAG `marts_publication`: roll the published marts back, or re-publish, by hand.

Trigger with `{"action": "rollback"}` to put the previous publication back into `marts` (the
one before the current; kept as `marts_previous`) or `{"action": "republish"}` to undo that
rollback. Every change is recorded in `ops.publications`. Same as `phw quality rollback`.
"""

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task

from phwarehouse.pipeline import notifier
from phwarehouse.pipeline.assets import MARTS
from phwarehouse.quality import tasks


@dag(
    dag_id="marts_publication",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    on_failure_callback=notifier.on_failure(),  # log, alerts file, e-mail
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    params={
        "action": Param(
            "rollback",
            type="string",
            enum=["rollback", "republish"],
            description="rollback: previous publication back; republish: undo a rollback",
        )
    },
    tags=["quality", "publication"],
    doc_md=__doc__,
)
def marts_publication():
    @task(outlets=[MARTS])
    def change_publication() -> str:
        return tasks.change_publication(get_current_context()["params"]["action"])

    change_publication()


marts_publication()
