"""The export DAGs: scheduled in Asia/Shanghai, the bulletin on the 1st with a deadline alert at
the 3rd 09:00, the appraisal in November; each waits for a publication, builds, then sends.
(The folder-wide rules — docs, tags, retries, no catch-up, wiring only — are in
test_dag_integrity.py, which parses every DAG file.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from airflow.timetables.base import TimeRestriction

from phwarehouse.exports import airflow_tasks

DAGS = Path(__file__).resolve().parents[2] / "dags"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    out = {}
    for name in ("bulletin_export", "appraisal_export"):
        bag = DagBag(dag_folder=str(DAGS / f"{name}.py"))
        assert bag.import_errors == {}, bag.import_errors
        out.update(bag.dags)
    return out


def test_bulletin_runs_on_the_1st_in_shanghai_and_alerts_at_the_3rd_0900(dags) -> None:
    dag = dags["bulletin_export"]
    assert dag.timetable._expression == "0 6 1 * *"
    assert str(dag.timetable._timezone) in ("Asia/Shanghai", "Timezone('Asia/Shanghai')")
    first = dag.timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(
            earliest=datetime(2026, 11, 15, tzinfo=UTC), latest=None, catchup=False
        ),
    )
    local = first.run_after.astimezone(SHANGHAI)
    assert (local.day, local.hour, local.minute) == (1, 6, 0) and local.month == 12
    (alert,) = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    deadline = (first.logical_date + alert.interval).astimezone(SHANGHAI)
    assert (deadline.month, deadline.day, deadline.hour) == (12, 3, 9)
    assert alert.callback.path.endswith("airflow_tasks.bulletin_deadline_missed")
    assert [t.task_id for t in dag.topological_sort()] == [
        "wait_for_publication",
        "build",
        "send",
    ]
    assert dag.get_task("wait_for_publication").mode == "reschedule"


def test_appraisal_runs_on_1_november_in_shanghai(dags) -> None:
    dag = dags["appraisal_export"]
    assert dag.timetable._expression == "0 8 1 11 *"
    assert [t.task_id for t in dag.topological_sort()] == [
        "wait_for_publication",
        "build",
        "send",
    ]


def test_periods_follow_the_local_calendar() -> None:
    # 1 Dec 06:00 in Shanghai is 30 Nov 22:00 UTC: the bulletin is November's
    run = datetime(2026, 12, 1, 6, tzinfo=SHANGHAI).astimezone(UTC)
    assert run.day == 30
    assert airflow_tasks.bulletin_period(run) == (2026, 11)
    assert airflow_tasks.bulletin_period(datetime(2027, 1, 1, 6, tzinfo=SHANGHAI)) == (2026, 12)
    assert airflow_tasks.appraisal_year(datetime(2026, 11, 1, 8, tzinfo=SHANGHAI)) == 2026
    assert timedelta(days=2, hours=3) == airflow_tasks.BULLETIN_DEADLINE


def test_deadline_callback_raises_an_alert(tmp_path, monkeypatch) -> None:
    import json

    monkeypatch.setenv("PHW_ALERTS_FILE", str(tmp_path / "alerts.log"))
    monkeypatch.delenv("PHW_SMTP_HOST", raising=False)
    airflow_tasks.bulletin_deadline_missed({"run_id": "scheduled__2026-12-01"})
    (record,) = [json.loads(x) for x in (tmp_path / "alerts.log").read_text().splitlines()]
    assert record["kind"] == "deadline_missed"
    assert "3rd 09:00" in record["subject"] and record["details"]["dag_id"] == "bulletin_export"
