"""Airflow DAG `warehouse_transform`: the dbt project (staging → intermediate → marts), via Cosmos.

Scheduled on the raw assets: it runs once both the platform feed and the file drops have
refreshed the raw schema. Staging and the person x window tables are incremental; trigger with
`{"full_refresh": true}` after changing seeds, vars or org units to rebuild them from scratch.
Cosmos renders a task per dbt node (watcher mode: one `dbt build`, a sensor per node) and the
tests after all models. `plan_build` decides what the run builds (phwarehouse.pipeline.
transform_plan): everything on the first run or a full refresh, else the models downstream of
the sources that received rows and of the cut-off when it moved, and every mart. It is a
branch upstream of every dbt task: the other models and the seeds end `skipped` (up to date)
without starting, and the tests cover the built models only, over the rows the run wrote.
`record_build_state` keeps what a successful build saw.
Write-audit-publish: dbt builds the marts into `marts_candidate`;
`quality_gate` runs the Great Expectations checks (phwarehouse.quality) on the day's raw load and
the candidate and fails, naming the failed checks, when an error-level one fails; only then
`publish_marts` swaps the candidate into `marts` (the `marts` asset; the previous publication is
kept for rollback: DAG `marts_publication`).

Data cut-off (dbt var `data_cutoff_date`, recorded by the gate and the publication): the last day
in Asia/Shanghai that had ended by the end of the run's data interval, or by its `run_after` when
it has none (asset-triggered runs, manual runs without a logical date); see
`phwarehouse.pipeline.data_cutoff`. Clearing an old run reproduces its cut-off; trigger with a
logical date on day D+1 (Asia/Shanghai) to build as of day D.
"""

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task
from cosmos import DbtTaskGroup

from phwarehouse.pipeline import data_cutoff, dbt_config, notifier, transform_plan
from phwarehouse.pipeline.assets import MARTS, MARTS_CANDIDATE, RAW_PLATFORM, RAW_POPULATION
from phwarehouse.quality import tasks


@dag(
    dag_id="warehouse_transform",
    schedule=[RAW_PLATFORM, RAW_POPULATION],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    on_failure_callback=notifier.on_failure(),  # log, alerts file, e-mail
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    tags=["dbt", "transform"],
    params={
        "full_refresh": Param(
            False, type="boolean", description="dbt --full-refresh: rebuild incremental models"
        )
    },
    user_defined_macros=data_cutoff.MACROS,  # the run's cut-off, in dbt's vars and the gate's
    doc_md=__doc__,
)
def warehouse_transform():
    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=dbt_config.project_config(),
        profile_config=dbt_config.profile_config(),
        execution_config=dbt_config.execution_config(),
        render_config=dbt_config.render_config(),
        operator_args=dbt_config.operator_args(),
        default_args={"retries": 1},
    )

    @task.branch
    def plan_build(data_cutoff_date: str) -> list[str]:
        context = get_current_context()
        return transform_plan.plan_build(data_cutoff_date, dbt_config.MANIFEST, context)

    @task
    def record_build_state() -> str:
        return transform_plan.record_build_state(get_current_context())

    @task(outlets=[MARTS_CANDIDATE])
    def quality_gate(data_cutoff_date: str) -> dict:
        return tasks.validate_candidate(data_cutoff_date)

    @task(outlets=[MARTS])
    def publish_marts(gate_result: dict) -> str:
        return tasks.publish_candidate(gate_result)

    plan = plan_build(data_cutoff.TEMPLATE)
    gate = quality_gate(data_cutoff.TEMPLATE)
    plan >> list(dbt.children.values())  # the branch: it skips what the plan leaves out
    dbt >> [gate, record_build_state()]
    publish_marts(gate)


warehouse_transform()
