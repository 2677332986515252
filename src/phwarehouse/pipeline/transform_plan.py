"""The build plan in `warehouse_transform`: each run builds and tests what changed (dbt_selection).

- `plan_build`, a branch task upstream of every task of the dbt group, plans the run against the
  state the last successful build kept: a full build (first run, `full_refresh`, a missing
  relation) or the models downstream of what changed, with the tests scoped to the rows the run
  wrote. It keeps the plan in its XCom `plan` and follows every task but the sensors of the
  models and seeds the plan leaves out: the scheduler marks those `skipped` (up to date) at once,
  without starting them. The sensors run with the trigger rule `none_failed` (dbt_config), so a
  model built downstream of a skipped one is still watched.
- `apply_plan` is the `pre_execute` hook of every Cosmos task of the group. The watcher producer
  runs `dbt build` on the plan's models only (`--full-refresh` for a full build) and also
  reports the left-out nodes as skipped (a sensor of one that runs anyway, e.g. forced from the
  UI, then ends skipped instead of waiting); the tests task tests the plan's models only. Both
  get the plan's environment (the tests' scope, the incremental sessions' `PGOPTIONS`).
- `record_build_state`, after the group succeeded, keeps the state the next plan compares with,
  in `PHW_DBT_STATE_DIR` (default `$PHW_HOME/dbt_state`, readable by its owner only).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from phwarehouse.pipeline import dbt_selection, runtime

PLAN_TASK_ID = "plan_build"
PLAN_KEY = "plan"  # the plan task's XCom (its return value is the branch it follows)
STATE_DIR_ENV = "PHW_DBT_STATE_DIR"
#: what Cosmos' watcher sensors read as a node's outcome (cosmos.operators._watcher)
SKIPPED = {"status": "skipped", "outlet_uris": []}


def state_dir() -> Path:
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured)
    home = os.environ.get("PHW_HOME")
    if not home:
        raise RuntimeError(f"neither {STATE_DIR_ENV} nor PHW_HOME is set on this Airflow worker")
    return Path(home) / "dbt_state"


def payload(plan: dbt_selection.Plan) -> dict[str, Any]:
    """The plan as the task's XCom (JSON)."""
    return {
        "full": plan.full,
        "reason": plan.reason,
        "summary": plan.summary(),
        "select": list(plan.select),
        "unbuilt": list(plan.unbuilt),
        "env": plan.dbt_env(),
        "next_state": asdict(plan.next_state) if plan.next_state else None,
    }


def plan_build(data_cutoff_date: str, manifest: Path, context: Any) -> list[str]:
    """Plan this run (its `full_refresh` param) on the warehouse (the transformer's role) and
    dbt's parsed `manifest`; keep the plan in XCom `plan` and return the downstream tasks to
    follow (the branch)."""
    full_refresh = bool(context["params"].get("full_refresh", False))
    if manifest.exists():
        plan = dbt_selection.plan_for(
            runtime.warehouse_dsn("transformer"),
            manifest,
            state_dir() / "plan",
            data_cutoff_date=data_cutoff_date,
            full_refresh=full_refresh,
        )
        if plan.skipped:
            print(f"up to date, not built: {', '.join(plan.skipped)}")
        planned = payload(plan)
    else:
        planned = whole_project(full_refresh, manifest)
    print(planned["summary"])
    context["ti"].xcom_push(key=PLAN_KEY, value=planned)
    return followed(context["task"].downstream_list, planned)


def whole_project(full_refresh: bool, manifest: Path) -> dict[str, Any]:
    """The plan without dbt's manifest (the DAG then rendered its tasks with `dbt ls`): every
    model and test, the incremental models incremental unless `full_refresh`; no state kept,
    so the next run plans the same way until `phw up`'s `dbt parse` writes the manifest."""
    reason = f"no dbt manifest at {manifest}: every model, no state kept"
    return {
        "full": full_refresh,
        "reason": reason,
        "summary": f"{'full refresh' if full_refresh else 'build'} of the whole project: {reason}",
        "select": [],
        "unbuilt": [],
        "env": {dbt_selection.TESTS_LOADED_AFTER_ENV: ""},
        "next_state": None,
    }


def followed(downstream: Any, plan: dict[str, Any]) -> list[str]:
    """Every downstream task but the sensors (Cosmos' `model_unique_id`) of left-out nodes."""
    unbuilt = set(plan["unbuilt"])
    return sorted(
        t.task_id for t in downstream if getattr(t, "model_unique_id", None) not in unbuilt
    )


def _plan_of_run(ti: Any) -> dict[str, Any]:
    plan = ti.xcom_pull(task_ids=PLAN_TASK_ID, key=PLAN_KEY)
    if not plan:
        raise RuntimeError(f"no build plan from task {PLAN_TASK_ID!r} in this run")
    return plan


def apply_plan(context: Any) -> None:
    """`pre_execute` hook of the Cosmos tasks: give the producer and the tests task the plan."""
    from cosmos.operators.local import DbtTestLocalOperator
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    task = context["task"]
    if not isinstance(task, DbtProducerWatcherOperator | DbtTestLocalOperator):
        return  # a sensor: it reads what the producer reports
    ti = context["ti"]
    plan = _plan_of_run(ti)
    configure(task, plan, producer=isinstance(task, DbtProducerWatcherOperator))
    if isinstance(task, DbtProducerWatcherOperator):
        for unique_id in plan["unbuilt"]:
            ti.xcom_push(key=f"{unique_id.replace('.', '__')}_status", value=SKIPPED)


def configure(task: Any, plan: dict[str, Any], *, producer: bool) -> None:
    """Set a dbt task's selection, full refresh and environment from the plan."""
    task.env = {**(task.env or {}), **plan["env"]}
    if producer:
        task.full_refresh = plan["full"]
    if not plan["full"] and plan["select"]:
        task.select = " ".join(plan["select"])
    print(f"build plan: {plan['summary']}")


def record_build_state(context: Any) -> str:
    """Keep what this successful build saw, for the next run's plan."""
    plan = _plan_of_run(context["ti"])
    if not plan.get("next_state"):
        return "no state to record"
    state = dbt_selection.BuildState(**plan["next_state"])
    dbt_selection.save_state(state_dir() / "plan", state)
    return f"recorded: window from {state.window_start}, cut-off {state.data_cutoff_date}"
