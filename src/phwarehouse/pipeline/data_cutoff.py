"""The transform's data cut-off (dbt var `data_cutoff_date`), keyed on the run, not on today.

Rule: the cut-off is the last day, in the district's time zone (Asia/Shanghai, dbt var
`reporting_timezone`), that had ended by the run's *as-of instant*; services dated after it are
excluded (spec §6). The as-of instant is the end of the run's data interval; a run without one
uses its `run_after`:

- an asset-triggered run (the transform's scheduled runs): Airflow 3 creates it with no logical
  date and no data interval (scheduler `_create_dag_runs_asset_triggered`: `logical_date=None,
  data_interval=None`; templates reference: "Asset-triggered Dags do not have a logical date");
  its `run_after` is when its asset events were queued, i.e. just after the ingests finished;
- a manual run triggered without a logical date: `run_after` is the trigger time;
- a manual run with a logical date: the asset timetable makes the interval that instant
  (`DataInterval.exact`), so logical date 2026-11-23 (any time that day, Asia/Shanghai) gives
  cut-off 2026-11-22.

`run_after` and the data interval are stored with the run, so clearing and re-running an old run
reproduces its cut-off. A daily ingest's run for [D 00:00, D+1 00:00) UTC ends at D+1 08:00 in
Asia/Shanghai: the transform it triggers cuts off at D.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

#: name of the DAG macro (`user_defined_macros=MACROS`) and the template that calls it
MACRO = "phw_data_cutoff_date"
TEMPLATE = "{{ " + MACRO + "(dag_run) }}"


def for_instant(instant: datetime) -> date:
    """The last day in Asia/Shanghai that had ended by `instant` (naive = UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(TZ).date() - timedelta(days=1)


def as_of(dag_run: Any) -> datetime:
    """The run's as-of instant: its data interval's end, else its `run_after`."""
    instant = getattr(dag_run, "data_interval_end", None) or getattr(dag_run, "run_after", None)
    if instant is None:
        run_id = getattr(dag_run, "run_id", dag_run)
        raise ValueError(f"run {run_id} has neither a data interval nor run_after")
    return instant


def for_run(dag_run: Any) -> str:
    """The run's cut-off as an ISO date (the template macro)."""
    return for_instant(as_of(dag_run)).isoformat()


MACROS = {MACRO: for_run}
