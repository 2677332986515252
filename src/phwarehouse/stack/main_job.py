"""`make run`: bring the stack up, feed it the demo district, run the pipeline DAGs, summarise."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field

import psycopg

from phwarehouse.settings import Settings
from phwarehouse.stack import manage, private, processes
from phwarehouse.stack.airflow_service import AirflowClient
from phwarehouse.stack.manage import Say

# DAGs `make run` triggers, in order. Downstream DAGs scheduled on Assets are awaited after them.
TRIGGERED_DAGS = ("platform_ingest", "file_drop_ingest")
ASSET_SCHEDULED_DAGS: tuple[str, ...] = ("warehouse_transform",)

DEMO_SEED = 20190416
DEMO_RESIDENTS = 30000  # override with PHW_DEMO_RESIDENTS


@dataclass
class RunReport:
    runs: list[tuple[str, str, str]] = field(default_factory=list)  # dag_id, run_id, state
    failed_tasks: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(state == "success" for _, _, state in self.runs)


def ensure_demo_district(settings: Settings, say: Say) -> None:
    """Generate the demo district once (deterministic) and drop its population CSVs."""
    data = settings.platform_data_dir
    residents = int(settings.get("PHW_DEMO_RESIDENTS", str(DEMO_RESIDENTS)))
    if not (data / "manifest.json").exists():
        say(f"generating the demo district ({residents} residents) into {data}")
        subprocess.run(
            [
                str(settings.venv_pipeline / "bin" / "python"),
                "-m",
                "phwarehouse.platform",
                "generate",
                "--seed",
                str(DEMO_SEED),
                "--residents",
                str(residents),
                "--out",
                str(data),
            ],
            check=True,
            umask=private.PRIVATE_UMASK,  # names, ID numbers, phones: this user only
        )
    _export_last_month_xlsx(settings, data, say)
    population_drop = settings.drop_dir / "population"
    population_drop.mkdir(parents=True, exist_ok=True)
    for csv in sorted((data / "population").glob("*.csv")):
        target = population_drop / csv.name
        if not target.exists():
            shutil.copy2(csv, target)
    for folder in (data, settings.drop_dir):
        private.make_private(folder)


def _export_last_month_xlsx(settings: Settings, data, say: Say) -> None:
    """Drop the platform's XLSX export of the last full month, as staff download it."""
    import json
    from datetime import date, timedelta

    as_of = date.fromisoformat(json.loads((data / "manifest.json").read_text())["as_of"][:10])
    month = (as_of.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    target = settings.drop_dir / "platform" / month
    if target.exists():
        return
    say(f"exporting the platform's XLSX files of {month} into the drop folder")
    subprocess.run(
        [
            str(settings.venv_pipeline / "bin" / "python"),
            "-m",
            "phwarehouse.platform",
            "export-xlsx",
            "--data",
            str(data),
            "--month",
            month,
            "--out",
            str(target),
        ],
        check=True,
        capture_output=True,
        umask=private.PRIVATE_UMASK,
    )


def run_pipeline(settings: Settings, say: Say, timeout: float = 3600) -> RunReport:
    client = AirflowClient.for_stack(settings)
    expected = set(TRIGGERED_DAGS) | set(ASSET_SCHEDULED_DAGS)
    dags = client.wait_for_dags(expected)
    say(f"Airflow lists {len(dags)} DAGs, no import errors")
    report = RunReport()
    started_at = time.time()
    for dag_id in ASSET_SCHEDULED_DAGS:
        client.patch(f"/dags/{dag_id}", {"is_paused": False})
    # one after the other: a population file is checked against the township org units
    # the platform ingest loads (file_drops defers it while there are none)
    for dag_id in TRIGGERED_DAGS:
        run_id = _start_run(client, dag_id)
        say(f"{dag_id}: run {run_id}; waiting")
        run = client.wait_for_run(dag_id, run_id, timeout)
        report.runs.append((dag_id, run_id, run["state"]))
        say(f"{dag_id}: {run['state']}")
        if run["state"] != "success":
            states = client.task_states(dag_id, run_id)
            report.failed_tasks[dag_id] = [t for t, s in states.items() if s != "success"]
    for dag_id in ASSET_SCHEDULED_DAGS:
        run = _wait_for_asset_run(client, dag_id, started_at, timeout)
        report.runs.append((dag_id, run["dag_run_id"], run["state"]))
        if run["state"] != "success":
            states = client.task_states(dag_id, run["dag_run_id"])
            report.failed_tasks[dag_id] = [t for t, s in states.items() if s == "failed"]
        say(f"{dag_id} (scheduled on assets): {run['state']}")
    return report


def _start_run(client: AirflowClient, dag_id: str, timeout: float = 120) -> str:
    """A paused DAG (first `make run`) is unpaused and its scheduled run for the latest interval
    is the one awaited; an active DAG gets a manual run. Either way one run per `make run`."""
    if not client.get(f"/dags/{dag_id}")["is_paused"]:
        return client.trigger(dag_id)
    client.patch(f"/dags/{dag_id}", {"is_paused": False})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.runs(dag_id, limit=1)
        if runs:
            return runs[0]["dag_run_id"]
        time.sleep(2)
    return client.trigger(dag_id)


def _wait_for_asset_run(client: AirflowClient, dag_id: str, since: float, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in client.runs(dag_id):
            queued = run.get("queued_at") or run.get("start_date") or ""
            if queued and _epoch(queued) >= since - 5 and run["state"] in ("success", "failed"):
                return run
        time.sleep(5)
    raise TimeoutError(f"{dag_id} did not finish a run scheduled on assets within {timeout:.0f}s")


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def warehouse_summary(settings: Settings) -> list[tuple[str, int, int, int, int, int]]:
    """(entity, received, loaded, quarantined, duplicates, conflicts) summed over the audit."""
    query = """
        select entity, sum(received), sum(loaded), sum(quarantined), sum(duplicates),
            sum(conflicts)
        from ops.load_audit group by entity order by entity
    """
    try:
        with psycopg.connect(settings.pg.admin_url(settings.warehouse_db)) as conn:
            return [tuple(r) for r in conn.execute(query).fetchall()]  # type: ignore[misc]
    except psycopg.errors.UndefinedTable:
        return []


def export_latest_bulletin(settings: Settings, say: Say) -> tuple[list, str]:
    """The bulletin of the latest month the current publication covers: (files, note)."""
    from phwarehouse.exports import jobs
    from phwarehouse.exports.data import NotPublished

    dsn = settings.warehouse_url("transformer")
    try:
        year, month = jobs.latest_bulletin_month(dsn)
        result = jobs.build_bulletin(dsn, settings.export_dir, year, month, say)
    except NotPublished as exc:
        return [], f"not produced: {exc}"
    return result.files, f"{year}-{month:02d}, publication {result.manifest['publication_id']}"


def main_job(settings: Settings, say: Say) -> RunReport:
    manage.up(settings, say)
    ensure_demo_district(settings, say)
    svc = manage.platform_service(settings)
    if settings.platform_is_local:
        processes.start(settings, svc)
        processes.wait_healthy(settings, svc, timeout=120)
        say(f"platform API answers on {settings.platform_url}")
    return run_pipeline(settings, say)
