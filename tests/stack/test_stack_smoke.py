"""End-to-end smoke test of the embedded stack, as `make run` runs it, on free ports.

Starts a throwaway cluster, Airflow (4 components), Superset and the platform simulator,
runs the main job twice, and checks what a user would check.
"""

from __future__ import annotations

import httpx
import psycopg
import pytest

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
    run = client.wait_for_run("platform_ingest", client.trigger("platform_ingest"), 1800)
    assert run["state"] == "success"
    assert _raw_counts(stack, until=second_run_started) == before


def test_stop_stops_every_process(stack) -> None:
    manage.down(stack)
    assert processes.recorded_services(stack) == []
    assert not pgcluster.is_running(stack)
    assert not processes.port_open(stack.airflow_port)
