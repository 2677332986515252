"""Airflow DAG `platform_ingest`: the public health platform's change feed into the raw schema.

One mapped task per entity pulls changes after the stored watermark up to the end of the run's
data interval (a backfill run, or the `since` param, re-pulls from an earlier point); every
batch is audited in ops.load_audit and must reconcile. Produces the `raw_platform` asset (the
transform's) and the `raw_<entity>` asset of each entity table it writes (every contracted one).
"""

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task

from phwarehouse.pipeline import ingest_tasks, notifier
from phwarehouse.pipeline.assets import RAW_ENTITIES, RAW_PLATFORM


@dag(
    dag_id="platform_ingest",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    on_failure_callback=notifier.on_failure(),  # log, alerts file, e-mail
    default_args={
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
    },
    params={
        "since": Param(
            None,
            type=["null", "string"],
            description="ISO timestamp to re-pull from (default: watermark)",
        )
    },
    tags=["ingestion", "platform"],
    doc_md=__doc__,
)
def platform_ingest():
    @task
    def list_entities() -> list[str]:
        return ingest_tasks.entities_to_ingest()

    @task(max_active_tis_per_dagrun=4)
    def ingest(entity: str) -> dict:
        return ingest_tasks.ingest_entity(entity, get_current_context())

    @task(outlets=[RAW_PLATFORM, *RAW_ENTITIES.values()])
    def reconcile(results: list[dict]) -> dict:
        return ingest_tasks.summarise(list(results))

    reconcile(ingest.expand(entity=list_entities()))


platform_ingest()
