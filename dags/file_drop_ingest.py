"""Airflow DAG `file_drop_ingest`: file drops into the raw schema, each file once (by SHA-256).

The statistics bureau's official population CSVs (drops/population/*.csv) and the platform's
monthly XLSX exports (drops/platform/**/*.xlsx). Produces every Asset it can write: the
`raw_population` asset and the `raw_<entity>` asset of each platform entity table (an XLSX sheet
may hold any of them). Not `raw_platform` (the API feed): the transform waits for both
`raw_platform` and `raw_population`, so rows from an XLSX drop are modelled with the next platform
run. A bad file is moved to drops/quarantine/ with an audit row and the others load;
`check_drops` then fails the run, naming the files set aside.
"""

from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from phwarehouse.pipeline import ingest_tasks, notifier
from phwarehouse.pipeline.assets import RAW_ENTITIES, RAW_POPULATION


@dag(
    dag_id="file_drop_ingest",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    on_failure_callback=notifier.on_failure(),  # log, alerts file, e-mail
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    tags=["ingestion", "files"],
    doc_md=__doc__,
)
def file_drop_ingest():
    @task(outlets=[RAW_POPULATION, *RAW_ENTITIES.values()])
    def ingest_drops() -> list[dict]:
        return ingest_tasks.ingest_file_drops(get_current_context())

    @task
    def check_drops(results: list[dict]) -> None:
        ingest_tasks.check_file_drops(get_current_context())

    check_drops(ingest_drops())


file_drop_ingest()
