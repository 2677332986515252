"""End-to-end smoke test of the embedded stack, as `make run` runs it, on free ports.

Starts a throwaway cluster, Airflow (4 components), Superset and the platform simulator,
runs the main job twice, and checks what a user would check.
"""

from __future__ import annotations

import httpx
import psycopg
import pytest
from tests.conftest import mart_rows

from phwarehouse.stack import main_job, manage, pgcluster, processes, superset_service
from phwarehouse.stack.airflow_service import AirflowClient

pytestmark = pytest.mark.stack


def _raw_counts(settings, until=None) -> dict[str, int]:
    """Row counts of every raw table; with `until`, of a platform entity's table only the rows
    the platform updated up to then (source_updated_at): what a later run may add is newer."""
    with psycopg.connect(settings.pg.admin_url(settings.warehouse_db)) as conn:
        tables = conn.execute(
            "select t.tablename, c.column_name is not null from pg_tables as t"
            " left join information_schema.columns as c on c.table_schema = t.schemaname"
            " and c.table_name = t.tablename and c.column_name = 'source_updated_at'"
            " where t.schemaname = 'raw' order by 1"
        ).fetchall()
        counts = {}
        for table, dated in tables:
            where = " where source_updated_at <= %s" if until is not None and dated else ""
            params = (until,) if where else ()
            query = f'select count(*) from raw."{table}"{where}'
            counts[table] = conn.execute(query, params).fetchone()[0]
        return counts


def test_main_job_runs_the_pipeline_and_every_service_answers(stack, first_run) -> None:
    report = first_run
    assert report.ok, report
    assert {dag for dag, _, _ in report.runs} >= set(main_job.TRIGGERED_DAGS)

    client = AirflowClient.for_stack(stack)
    assert client.import_errors() == []
    assert set(main_job.TRIGGERED_DAGS) <= set(client.dag_ids())

    assert httpx.get(f"{stack.superset_url}/health", timeout=10).text.strip() == "OK"
    assert superset_service.login(stack)

    summary = main_job.warehouse_summary(stack)
    assert summary, "the load audit is empty"
    for entity, received, loaded, quarantined, duplicates, conflicts in summary:
        assert received == loaded + quarantined + duplicates + conflicts, entity
    assert sum(row[2] for row in summary) > 10_000


def test_second_run_is_safe_and_a_replayed_ingest_changes_nothing(stack) -> None:
    """A second `make run` succeeds (it may load what was updated since the first run's
    interval ended); ingesting again right after it stores nothing twice."""
    from datetime import UTC, datetime

    second_run_started = datetime.now(UTC)
    report = main_job.main_job(stack, print)
    assert report.ok, report
    assert all(processes.read_pid(stack, s) for s in ("superset", "airflow-scheduler", "platform"))
    before = _raw_counts(stack, until=second_run_started)
    client = AirflowClient.for_stack(stack)
    incremental_run = _assert_second_transform_built_what_changed(client, report)
    _assert_a_full_refresh_publishes_the_same_marts(stack, client, incremental_run)
    run = client.wait_for_run("platform_ingest", client.trigger("platform_ingest"), 1800)
    assert run["state"] == "success"
    assert _raw_counts(stack, until=second_run_started) == before


def _plan_of(client: AirflowClient, run_id: str) -> dict:
    path = f"/dags/warehouse_transform/dagRuns/{run_id}/taskInstances/plan_build/xcomEntries"
    return client.get(f"{path}/plan", deserialize=True)["value"]


def _assert_second_transform_built_what_changed(client: AirflowClient, report) -> str:
    """The first transform run built everything; the second (same cut-off) only what is
    downstream of the raw tables that received rows, and every mart: the up-to-date models
    and the seeds end `skipped`, and the run still published."""
    runs = [run_id for dag, run_id, _ in report.runs if dag == "warehouse_transform"]
    assert runs, report
    previous = [
        r["dag_run_id"] for r in client.runs("warehouse_transform") if r["dag_run_id"] != runs[-1]
    ]
    assert previous, "no first transform run"
    assert _plan_of(client, previous[0])["full"] is True
    plan = _plan_of(client, runs[-1])
    assert plan["full"] is False, plan["summary"]
    states = client.task_states("warehouse_transform", runs[-1])
    assert states["plan_build"] == states["record_build_state"] == "success"
    assert states["publish_marts"] == "success"
    skipped = {t for t, state in states.items() if state == "skipped"}
    assert "dbt.entity_names_seed" in skipped
    kind = {"model": "run", "seed": "seed"}  # Cosmos' task ids: <name>_run, <name>_seed
    unbuilt = {f"dbt.{uid.split('.')[-1]}_{kind[uid.split('.')[0]]}" for uid in plan["unbuilt"]}
    assert unbuilt == skipped
    built = {t for t, state in states.items() if t.startswith("dbt.") and state == "success"}
    assert all({f"dbt.{name}_run", f"dbt.{name}_seed"} & built for name in plan["select"])
    # the producer built the plan's selection only: a left-out model kept the status the
    # plan's hook gave it (dbt would have replaced it had it built the model)
    model = next(uid for uid in plan["unbuilt"] if uid.startswith("model."))
    path = f"/dags/warehouse_transform/dagRuns/{runs[-1]}/taskInstances/dbt.dbt_producer_watcher"
    key = f"{model.replace('.', '__')}_status"
    status = client.get(f"{path}/xcomEntries/{key}", deserialize=True)["value"]
    assert status["status"] == "skipped", (model, status)
    assert "dbt.fct_indicator_values_run" in built and "dbt.dbt_project_test" in built
    return runs[-1]


def _assert_a_full_refresh_publishes_the_same_marts(
    settings, client: AirflowClient, incremental_run: str
) -> None:
    """What the incremental run published equals a full refresh of the same raw data as of the
    same instant, so with the same cut-off (the ingest DAGs paused meanwhile: nothing new)."""
    (as_of,) = [
        r["run_after"]
        for r in client.runs("warehouse_transform")
        if r["dag_run_id"] == incremental_run
    ]
    ingest = ("platform_ingest", "file_drop_ingest")
    for dag_id in ingest:
        client.patch(f"/dags/{dag_id}", {"is_paused": True})
    try:
        incremental = mart_rows(settings.pg.admin_url(settings.warehouse_db), "marts")
        assert "fct_indicator_values" in incremental
        run_id = client.post(
            "/dags/warehouse_transform/dagRuns",
            {"logical_date": as_of, "conf": {"full_refresh": True}},
        )["dag_run_id"]
        run = client.wait_for_run("warehouse_transform", run_id, 1800)
        assert run["state"] == "success"
        assert _plan_of(client, run_id)["full"] is True
        full = mart_rows(settings.pg.admin_url(settings.warehouse_db), "marts")
    finally:
        for dag_id in ingest:
            client.patch(f"/dags/{dag_id}", {"is_paused": False})
    assert full == incremental


def test_stop_stops_every_process(stack) -> None:
    manage.down(stack)
    assert processes.recorded_services(stack) == []
    assert not pgcluster.is_running(stack)
    assert not processes.port_open(stack.airflow_port)
