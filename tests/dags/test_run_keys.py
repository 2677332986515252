"""Runs keyed on their data interval (issue #13): the transform's data cut-off comes from the run,
not from today, and `file_drop_ingest` declares every raw Asset it can write."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import yaml

from phwarehouse.pipeline import data_cutoff
from phwarehouse.platform import schema
from phwarehouse.settings import DBT_TARGET

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _run(end: datetime | None, run_after: datetime) -> SimpleNamespace:
    """What a task's `dag_run` offers (airflow.sdk DagRun): interval end and run_after."""
    return SimpleNamespace(
        run_id="test", data_interval_start=None, data_interval_end=end, run_after=run_after
    )


# --- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "cutoff"),
    [
        # a daily UTC interval [11-22 00:00, 11-23 00:00) ends at 11-23 08:00 in Shanghai
        (datetime(2026, 11, 23, 0, 0, tzinfo=UTC), date(2026, 11, 22)),
        # midnight in Shanghai: the 22nd has just ended
        (datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI), date(2026, 11, 22)),
        # just before midnight in Shanghai: the 22nd is not over, the 21st is the last whole day
        (datetime(2026, 11, 22, 15, 59, 59, tzinfo=UTC), date(2026, 11, 21)),
        (datetime(2026, 11, 22, 16, 0, tzinfo=UTC), date(2026, 11, 22)),
        # naive = UTC
        (datetime(2026, 11, 23, 0, 0), date(2026, 11, 22)),
        # month end: the bulletin of November may then be exported (exports.data)
        (datetime(2026, 12, 1, 6, 0, tzinfo=SHANGHAI), date(2026, 11, 30)),
    ],
)
def test_cutoff_is_the_last_day_ended_in_shanghai(instant: datetime, cutoff: date) -> None:
    assert data_cutoff.for_instant(instant) == cutoff


def test_a_run_with_a_data_interval_uses_its_end_not_today() -> None:
    run = _run(datetime(2026, 3, 5, tzinfo=UTC), run_after=datetime.now(UTC))
    assert data_cutoff.for_run(run) == "2026-03-04"


def test_an_asset_triggered_or_intervalless_manual_run_uses_its_run_after() -> None:
    """Airflow 3 gives an asset-triggered run (and a manual one without a logical date) no data
    interval; its run_after is stored with it, so a re-run reproduces the cut-off."""
    run = _run(None, run_after=datetime(2026, 11, 23, 0, 40, tzinfo=UTC))
    assert data_cutoff.for_run(run) == "2026-11-22"


def test_a_run_without_interval_or_run_after_is_an_error_not_today() -> None:
    with pytest.raises(ValueError, match="neither"):
        data_cutoff.as_of(SimpleNamespace(run_id="r", data_interval_end=None, run_after=None))


def test_the_rule_uses_the_reporting_time_zone_of_dbt_and_the_exports() -> None:
    from phwarehouse.exports import airflow_tasks

    project = yaml.safe_load((ROOT / "dbt_project" / "dbt_project.yml").read_text())
    assert str(data_cutoff.TZ) == project["vars"]["reporting_timezone"] == str(airflow_tasks.TZ)


# --- the wiring ----------------------------------------------------------------------------


def _bag(name: str) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{name}.py"))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags


@pytest.fixture(scope="module")
def transform():
    manifest = ROOT / "dbt_project" / "target" / "manifest.json"
    if not manifest.exists():  # Cosmos renders from it (else it runs `dbt ls`)
        project = str(ROOT / "dbt_project")
        dirs = ["--project-dir", project, "--profiles-dir", project, "--target", DBT_TARGET]
        subprocess.run([f"{sys.prefix}/bin/dbt", "parse", *dirs], check=True, capture_output=True)
    return _bag("warehouse_transform")["warehouse_transform"]


def _render(task, dag_run: SimpleNamespace):
    """The task as a worker renders it for `dag_run` (a copy: the parsed DAG stays as it is)."""
    copy = task.prepare_for_execution()
    copy.render_template_fields({"dag_run": dag_run, "params": {"full_refresh": False}})
    return copy


@pytest.mark.parametrize(
    ("end", "run_after", "cutoff"),
    [
        (datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC), "2026-03-04"),
        (None, datetime(2026, 11, 23, 0, 40, tzinfo=UTC), "2026-11-22"),
    ],
)
def test_every_dbt_task_and_the_gate_get_the_runs_cutoff(transform, end, run_after, cutoff):
    """dbt's `data_cutoff_date` (environment variable PHW_DATA_CUTOFF_DATE) and the quality
    gate's cut-off (which the publication records) are the same date, derived from the run,
    whatever day the task runs."""
    run = _run(end, run_after)
    dbt_tasks = [t for t in transform.tasks if "vars" in t.template_fields]  # Cosmos' operators
    assert any(t.task_id == "dbt.dbt_producer_watcher" for t in dbt_tasks)
    for task in dbt_tasks:
        rendered = _render(task, run)
        assert rendered.vars == {"marts_schema": "marts_candidate"}, task.task_id
        assert rendered.env == {"PHW_DATA_CUTOFF_DATE": cutoff}, task.task_id
    gate = _render(transform.get_task("quality_gate"), run)
    assert list(gate.op_args) == [cutoff]


def test_file_drop_ingest_declares_every_raw_asset_it_can_write() -> None:
    """An XLSX drop writes raw.<entity> for any platform entity sheet (file_drops), the population
    CSV raw.stat_population; `raw_platform` stays the API feed the transform waits for."""
    outlets = _bag("file_drop_ingest")["file_drop_ingest"].get_task("ingest_drops").outlets
    uris = {o.uri for o in outlets}
    assert {f"warehouse://raw/{e}" for e in schema.ENTITIES} <= uris
    assert "warehouse://raw/stat_population" in uris
    assert "raw_platform" not in {o.name for o in outlets}


def test_both_ingests_feed_the_same_entity_assets() -> None:
    platform = _bag("platform_ingest")["platform_ingest"].get_task("reconcile").outlets
    drops = _bag("file_drop_ingest")["file_drop_ingest"].get_task("ingest_drops").outlets
    entity_uris = {f"warehouse://raw/{e}" for e in schema.ENTITIES}
    assert entity_uris <= {o.uri for o in platform}
    names = {o.uri: o.name for o in drops if o.uri in entity_uris}
    assert names == {o.uri: o.name for o in platform if o.uri in entity_uris}
