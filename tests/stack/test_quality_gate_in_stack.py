"""`make run` on the throwaway stack runs the quality gate in Airflow and publishes the marts."""

from __future__ import annotations

import psycopg

from phwarehouse.quality import publication, status
from phwarehouse.stack.airflow_service import AirflowClient


def test_main_job_validates_and_publishes_the_marts(stack, first_run) -> None:
    assert first_run.ok, first_run
    transform = [run for dag, run, _ in first_run.runs if dag == "warehouse_transform"]
    assert transform, first_run.runs
    states = AirflowClient.for_stack(stack).task_states("warehouse_transform", transform[-1])
    assert states["quality_gate"] == "success" and states["publish_marts"] == "success", states

    with psycopg.connect(stack.warehouse_url("quality")) as conn:
        current = publication.current_publication(conn)
        assert current is not None
        run = conn.execute(
            "select status, checks_run, errors, publication_id from quality.gate_runs"
            " order by started_at desc limit 1"
        ).fetchone()
    assert run[0] == "passed" and run[1] >= 16 and run[2] == 0
    assert run[3] == current.publication_id
    with psycopg.connect(stack.warehouse_url("bi")) as conn:  # Superset's role reads it
        assert conn.execute("select count(*) from marts.fct_indicator_values").fetchone()[0] > 0

    lines = status.summary_lines(stack.warehouse_url("quality"))  # what `make run` prints
    assert any(current.publication_id in line for line in lines), lines
    docs = [line for line in lines if line.startswith("GX Data Docs: file://")]
    assert docs and docs[0].endswith("index.html"), lines
