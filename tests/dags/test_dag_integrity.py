"""The DAG folder imports cleanly and each DAG is wired as the pipeline expects."""

from pathlib import Path

import pytest

from phwarehouse.settings import DBT_TARGET

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    """Parse the DAG folder the way the DAG processor does once `phw up` wrote the manifest."""
    import subprocess
    import sys

    from airflow.dag_processing.dagbag import DagBag

    project = DAGS_FOLDER.parent / "dbt_project"
    subprocess.run(
        [
            f"{sys.prefix}/bin/dbt",
            "parse",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target",
            DBT_TARGET,  # prod, as `phw up` (manage.dbt_parse)
            "--quiet",
        ],
        check=True,
        capture_output=True,
    )

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_expected_dags_are_present(dagbag) -> None:
    assert {"platform_ingest", "file_drop_ingest", "warehouse_transform"} <= set(dagbag.dag_ids)


def test_dag_files_are_discoverable_in_safe_mode() -> None:
    """Airflow's safe mode skips files that do not mention both `airflow` and `dag`."""
    for path in DAGS_FOLDER.glob("*.py"):
        text = path.read_text().lower()
        assert "airflow" in text and "dag" in text, path.name


def test_every_dag_has_owner_docs_tags_retries_and_no_catchup(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md, dag_id
        assert dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id
        for t in dag.tasks:
            assert t.retries >= 1, f"{dag_id}.{t.task_id}"


def test_ingest_produces_the_raw_platform_asset(dagbag) -> None:
    dag = dagbag.dags["platform_ingest"]
    outlets = [o.name for o in dag.get_task("reconcile").outlets]
    assert outlets[0] == "raw_platform"  # then raw_<entity> of every table (test_run_keys.py)
    assert dag.get_task("ingest").max_active_tis_per_dagrun == 4


def test_dag_files_are_wiring_only() -> None:
    """No database or HTTP calls at import: DAG files import from phwarehouse, nothing else."""
    forbidden = ("psycopg", "httpx", "requests", "open(", "sqlalchemy")
    for path in DAGS_FOLDER.glob("*.py"):
        text = path.read_text()
        for word in forbidden:
            assert word not in text, f"{path.name} uses {word}"


def test_transform_consumers_poke_and_full_refresh_follows_the_run_param(dagbag) -> None:
    """Consumers must not defer (apache/airflow#66374: a trigger firing right after deferral
    fails the task, and its retry re-runs the model, dropping dependent views); the dbt tasks
    rebuild incremental models only when the run asks for it."""
    dag = dagbag.dags["warehouse_transform"]
    assert dag.params["full_refresh"] is False
    consumers = [t for t in dag.tasks if hasattr(t, "poke_interval")]  # the Cosmos sensors
    assert consumers, "no Cosmos watcher consumers rendered"
    assert all(t.deferrable is False and t.mode == "poke" for t in consumers)
    producer = dag.get_task("dbt.dbt_producer_watcher")
    assert producer.full_refresh == "{{ params.full_refresh }}"


def test_transform_runs_data_tests_but_leaves_unit_tests_to_ci(dagbag) -> None:
    """The tests task after the models excludes dbt unit tests (fixtures, run by `make test`)."""
    dag = dagbag.dags["warehouse_transform"]
    test_tasks = [t for t in dag.tasks if type(t).__name__.startswith("DbtTest")]
    assert test_tasks, [type(t).__name__ for t in dag.tasks][:10]
    for task in test_tasks:
        assert "resource_type:unit_test" in (task.exclude or ""), task.task_id


def test_transform_builds_a_candidate_that_the_gate_validates_before_publication(dagbag) -> None:
    """Write-audit-publish: dbt writes `marts_candidate`; quality_gate runs after every dbt task
    and publish_marts (the `marts` asset) only after the gate."""
    dag = dagbag.dags["warehouse_transform"]
    producer = dag.get_task("dbt.dbt_producer_watcher")
    assert producer.vars == {"marts_schema": "marts_candidate"}
    # the run's cut-off (test_run_keys), in the environment: dbt keeps its partial parse
    assert producer.env == {"PHW_DATA_CUTOFF_DATE": "{{ phw_data_cutoff_date(dag_run) }}"}
    gate, publish = dag.get_task("quality_gate"), dag.get_task("publish_marts")
    assert publish.upstream_task_ids == {"quality_gate"}
    assert [o.name for o in publish.outlets] == ["marts"]
    dbt_tasks = {t.task_id for t in dag.tasks if t.task_id.startswith("dbt.")}
    assert gate.upstream_task_ids and gate.upstream_task_ids <= dbt_tasks
    assert gate.get_flat_relative_ids(upstream=True) >= dbt_tasks - {gate.task_id}


def test_publication_dag_rolls_back_or_republishes(dagbag) -> None:
    dag = dagbag.dags["marts_publication"]
    assert dag.params["action"] == "rollback"
    assert [o.name for o in dag.get_task("change_publication").outlets] == ["marts"]


def test_transform_runs_dbt_target_prod_without_the_macro_harnesses(dagbag) -> None:
    """The pipeline's dbt target is prod (verbatim schemas); the CI-only harnesses of
    models/intermediate/macro_checks are disabled there, so no task builds or tests them."""
    dag = dagbag.dags["warehouse_transform"]
    producer = dag.get_task("dbt.dbt_producer_watcher")
    assert producer.profile_config.target_name == "prod"
    assert [t.task_id for t in dag.tasks if "macro_check" in t.task_id] == []


class _FakeTI:
    """The XCom side of a task instance: the plan task's value, and what a task pushes."""

    def __init__(self, plan):
        self.plan, self.pulled, self.pushed = plan, [], {}

    def xcom_pull(self, task_ids, key="return_value"):
        self.pulled.append((task_ids, key))
        return self.plan

    def xcom_push(self, key, value):
        self.pushed[key] = value


def _incremental_plan():
    return {
        "full": False,
        "reason": "incremental",
        "summary": "incremental build of 2 models",
        "select": ["stg_platform__residents", "fct_indicator_values"],
        # left-out nodes are never downstream of built ones (dbt_selection: descendants)
        "unbuilt": [
            "model.public_health.stg_platform__stat_population",
            "seed.public_health.entity_names",
        ],
        "env": {"PHW_TESTS_LOADED_AFTER": "2026-12-04T09:00:00+00:00", "PGOPTIONS": "-c x=0"},
        "next_state": None,
    }


def test_transform_plans_the_run_before_dbt_and_records_it_after(dagbag) -> None:
    """plan_build runs first; the Cosmos tasks take the plan (pre_execute) and a model built
    downstream of a skipped (up-to-date) one is still watched; the state is recorded only after
    every model and the tests succeeded."""
    from phwarehouse.pipeline import transform_plan

    dag = dagbag.dags["warehouse_transform"]
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    done = "dbt.dbt_producer_watcher_done"  # Cosmos' gate after the producer: no dbt call
    hooked = [t for t in dbt_tasks if t.task_id != done]
    assert all(t._pre_execute_hook is transform_plan.apply_plan for t in hooked)
    assert {t.trigger_rule for t in dbt_tasks} == {"none_failed"}
    plan = dag.get_task("plan_build")
    assert type(plan).__name__ == "_BranchPythonDecoratedOperator"
    assert plan.downstream_task_ids == {t.task_id for t in dbt_tasks}  # it can skip any
    assert dag.get_task("dbt.dbt_producer_watcher").upstream_task_ids == {"plan_build"}
    record = dag.get_task("record_build_state")
    assert record.upstream_task_ids == dag.get_task("quality_gate").upstream_task_ids
    assert "dbt.dbt_project_test" in record.upstream_task_ids
    assert record.trigger_rule == "all_success"


def test_the_plan_task_follows_all_but_the_sensors_of_left_out_nodes(dagbag) -> None:
    from phwarehouse.pipeline import transform_plan

    plan_task = dagbag.dags["warehouse_transform"].get_task("plan_build")
    follow = transform_plan.followed(plan_task.downstream_list, _incremental_plan())
    assert "dbt.stg_platform__stat_population_run" not in follow  # skipped by the branch
    assert "dbt.entity_names_seed" not in follow
    assert {"dbt.dbt_producer_watcher", "dbt.dbt_project_test"} <= set(follow)
    assert {"dbt.dbt_producer_watcher_done", "dbt.fct_indicator_values_run"} <= set(follow)
    assert len(follow) == len(plan_task.downstream_list) - 2
    full = {**_incremental_plan(), "full": True, "unbuilt": []}
    assert set(transform_plan.followed(plan_task.downstream_list, full)) == {
        t.task_id for t in plan_task.downstream_list
    }


def test_the_producer_builds_the_plan_and_reports_the_rest_skipped(dagbag) -> None:
    import copy

    from phwarehouse.pipeline import transform_plan

    dag = dagbag.dags["warehouse_transform"]
    producer = copy.copy(dag.get_task("dbt.dbt_producer_watcher"))
    tests = copy.copy(dag.get_task("dbt.dbt_project_test"))
    sensor = copy.copy(dag.get_task("dbt.int_persons_run"))
    plan = _incremental_plan()

    ti = _FakeTI(plan)
    transform_plan.apply_plan({"task": producer, "ti": ti})
    assert producer.select == "stg_platform__residents fct_indicator_values"
    assert producer.full_refresh is False
    assert producer.exclude == "resource_type:unit_test"
    assert producer.env == {
        "PHW_DATA_CUTOFF_DATE": "{{ phw_data_cutoff_date(dag_run) }}",
        **plan["env"],
    }
    skipped = {"status": "skipped", "outlet_uris": []}  # what Cosmos' sensors read
    assert ti.pushed == {
        "model__public_health__stg_platform__stat_population_status": skipped,
        "seed__public_health__entity_names_status": skipped,
    }

    ti = _FakeTI(plan)
    transform_plan.apply_plan({"task": tests, "ti": ti})
    assert tests.select == "stg_platform__residents fct_indicator_values"
    assert tests.env["PHW_TESTS_LOADED_AFTER"] == "2026-12-04T09:00:00+00:00"
    assert ti.pushed == {}

    ti = _FakeTI(plan)
    transform_plan.apply_plan({"task": sensor, "ti": ti})
    assert ti.pulled == [] and sensor.env == dag.get_task("dbt.int_persons_run").env
    ti = _FakeTI(plan)
    transform_plan.apply_plan({"task": copy.copy(producer), "ti": ti})
    assert ti.pulled == [("plan_build", "plan")]

    full = {**plan, "full": True, "select": [], "unbuilt": []}
    producer = copy.copy(dag.get_task("dbt.dbt_producer_watcher"))
    ti = _FakeTI(full)
    transform_plan.apply_plan({"task": producer, "ti": ti})
    assert producer.full_refresh is True and producer.select is None and ti.pushed == {}

    with pytest.raises(RuntimeError, match="no build plan"):
        transform_plan.apply_plan({"task": producer, "ti": _FakeTI(None)})


def test_without_a_manifest_the_plan_builds_the_whole_project(dagbag, tmp_path):
    """A deployment that rendered the DAG with `dbt ls` (no manifest): every model and test,
    incremental models incremental, nothing skipped, no state recorded."""
    import copy

    from phwarehouse.pipeline import transform_plan

    dag = dagbag.dags["warehouse_transform"]
    plan_task = dag.get_task("plan_build")
    ti = _FakeTI(None)
    context = {"ti": ti, "task": plan_task, "params": {"full_refresh": False}}
    absent = tmp_path / "absent" / "manifest.json"
    follow = transform_plan.plan_build("2026-12-04", absent, context)
    assert set(follow) == plan_task.downstream_task_ids
    plan = ti.pushed["plan"]
    assert plan["full"] is False and plan["unbuilt"] == [] and plan["next_state"] is None
    assert "no dbt manifest" in plan["summary"]
    producer = copy.copy(dag.get_task("dbt.dbt_producer_watcher"))
    transform_plan.configure(producer, plan, producer=True)
    assert producer.select is None and producer.full_refresh is False
    assert producer.env["PHW_TESTS_LOADED_AFTER"] == ""  # every row tested
    assert transform_plan.record_build_state({"ti": _FakeTI(plan)}) == "no state to record"
    full = transform_plan.whole_project(True, tmp_path / "absent")
    transform_plan.configure(producer, full, producer=True)
    assert producer.full_refresh is True
