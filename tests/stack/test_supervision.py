"""Services supervised and least exposure on the throwaway stack (issue #9, items 5 and 6).

A PostgreSQL restart no longer leaves the scheduler dead, a killed service comes back, a failed
run raises an alert, every listener is on loopback and personal data is private.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from phwarehouse.stack import main_job, manage, pgcluster, processes
from phwarehouse.stack.airflow_service import AirflowClient, airflow_env

pytestmark = pytest.mark.stack


def _wait(check, what: str, timeout: float = 180.0, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


@pytest.fixture(scope="module")
def running(stack, first_run):
    """The stack after `make run`'s main job, up again if an earlier module stopped it."""
    if not (
        pgcluster.is_running(stack)
        and processes.read_pid(stack, "airflow-scheduler")
        and processes.read_pid(stack, "platform")
    ):
        manage.up(stack, print)
        svc = manage.platform_service(stack)
        processes.start(stack, svc)
        processes.wait_healthy(stack, svc)
    return stack


def _stack_pids(settings) -> set[int]:
    """Every process of this stack: the supervisors' sessions (services, their workers and
    tasks) and the PostgreSQL server with its children."""
    sessions = {
        pid
        for name in processes.recorded_services(settings)
        if (pid := processes.read_pid(settings, name))
    }
    postmaster = int((settings.pgdata / "postmaster.pid").read_text().split()[0])
    pids: set[int] = set()
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        pid, ppid, sid = int(path.parent.name), int(fields[1]), int(fields[3])
        if sid in sessions or pid == postmaster or ppid == postmaster:
            pids.add(pid)
    return pids


def test_every_listener_is_on_loopback(running) -> None:
    ours = _stack_pids(running)
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    listeners = []
    for line in out.splitlines():
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if pids & ours:
            listeners.append(line.split()[3])
    ports = {int(addr.rsplit(":", 1)[1]) for addr in listeners}
    assert {running.pg.port, running.airflow_port, running.superset_port} <= ports
    assert running.platform_port in ports
    for addr in listeners:
        assert addr.rsplit(":", 1)[0] in ("127.0.0.1", "[::1]"), listeners
    assert not {8793, 8794} & ports  # the log servers (no host setting) are not started
    health = int(airflow_env(running)["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"])
    assert health in ports


def test_personal_data_and_secrets_are_private(running) -> None:
    trees = [
        running.platform_data_dir,
        running.drop_dir,
        running.log_dir,
        running.airflow_home / "logs",
    ]
    loose = []
    for tree in trees:
        assert tree.exists(), tree
        for path in [tree, *tree.rglob("*")]:
            if path.is_symlink():
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                loose.append(f"{oct(mode)} {path}")
    assert loose == []
    assert stat.S_IMODE(running.credentials_file.stat().st_mode) == 0o600
    # the home: no one else may list or read it (0711 when the cluster's owner must pass)
    assert stat.S_IMODE(running.home.stat().st_mode) & 0o066 == 0
    assert any((running.platform_data_dir).rglob("*.jsonl")), "no platform data to check"


def test_a_killed_service_is_restarted(running) -> None:
    for name in ("platform", "airflow-triggerer"):
        before = processes.restarts(running, name)
        pid = processes.service_pid(running, name)
        assert pid, name
        os.kill(pid, signal.SIGKILL)
        _wait(
            lambda name=name, pid=pid: (new := processes.service_pid(running, name)) and new != pid,
            f"{name} restarted",
            timeout=60,
        )
        assert processes.restarts(running, name) == before + 1
        state = dict((n, s) for n, s, _ in manage.status(running))[name]
        assert state.startswith("running") and "restarted" in state
    _wait(lambda: processes.http_ok(f"{running.platform_url}/health"), "platform answers", 60)
    alerts = (running.log_dir / "alerts.log").read_text()
    assert "service platform exited and was restarted" in alerts


def _pg_restart(settings) -> None:
    """`pg_ctl restart` of the stack's cluster, as the tester did (about a second down)."""
    subprocess.run(
        pgcluster._as_owner(
            [
                str(pgcluster.pg_bindir() / "pg_ctl"),
                "-D",
                str(settings.pgdata),
                "-m",
                "fast",
                "-w",
                "restart",
                "-o",
                f"-p {settings.pg.port}",
                "-l",
                str(settings.pgdata / "server.log"),
            ],
            pgcluster.cluster_owner(),
        ),
        check=True,
        capture_output=True,
    )


def test_the_scheduler_survives_a_database_restart_and_runs_still_succeed(running) -> None:
    client = AirflowClient.for_stack(running)
    health_port = airflow_env(running)["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"]
    for _ in range(2):  # the first restart often catches the scheduler mid-query
        _pg_restart(running)
        time.sleep(5)
    _wait(
        lambda: processes.service_pid(running, "airflow-scheduler"),
        "the scheduler runs (again)",
        timeout=120,
    )
    _wait(
        lambda: processes.http_ok(f"http://127.0.0.1:{health_port}/health"),
        "the scheduler's health check answers",
        timeout=180,
        every=3,
    )
    assert manage.status(running)[0][1] == "running"
    run = client.wait_for_run("file_drop_ingest", client.trigger("file_drop_ingest"), 900)
    assert run["state"] == "success"
    assert processes.service_pid(running, "airflow-scheduler")


def test_a_failed_run_alerts_the_data_engineers(running) -> None:
    """Fail a run without waiting for retries: its task instances are set to failed before
    they start; the DAG's on_failure_callback writes the alert."""
    client = AirflowClient.for_stack(running)
    dag_id = "file_drop_ingest"
    client.patch(f"/dags/{dag_id}", {"is_paused": True})
    try:
        run = client.post(
            f"/dags/{dag_id}/dagRuns",
            {"logical_date": datetime.now(UTC).isoformat(), "conf": {}},
        )
        run_id = run["dag_run_id"]
        tis = _wait(
            lambda: client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"],
            "task instances created",
            timeout=60,
        )
        for ti in tis:
            resp = httpx.patch(
                f"{client.base_url}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/"
                f"{ti['task_id']}",
                headers=client._headers(),
                json={"new_state": "failed"},
                timeout=30,
            )
            resp.raise_for_status()
    finally:
        client.patch(f"/dags/{dag_id}", {"is_paused": False})
    assert client.wait_for_run(dag_id, run_id, 300)["state"] == "failed"

    def alert() -> dict | None:
        path = running.log_dir / "alerts.log"
        for line in path.read_text().splitlines() if path.exists() else []:
            record = json.loads(line)
            if record["kind"] == "airflow_failure" and record["details"]["run_id"] == run_id:
                return record
        return None

    record = _wait(alert, "the failure alert", timeout=180, every=3)
    assert record["details"]["dag_id"] == dag_id
    assert record["mail"] == "not configured"  # no SMTP on the test stack: log and file only
    assert stat.S_IMODE((running.log_dir / "alerts.log").stat().st_mode) == 0o600


def test_main_job_still_succeeds_after_the_faults(running) -> None:
    report = main_job.main_job(running, print)
    assert report.ok, report
