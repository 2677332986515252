"""A service of the local stack that exits is restarted by its supervisor (issue #9, item 5);
stopping the stack stops supervisor and service. Uses `sleep` as the service."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest

from phwarehouse.settings import load_settings
from phwarehouse.stack import manage, processes, supervisor
from phwarehouse.stack.processes import Service


def _wait(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def settings(tmp_path):
    s = load_settings(tmp_path / "home", {})
    yield s
    for name in processes.recorded_services(s):
        processes.stop(s, name, timeout=5)


def test_back_off_doubles_after_short_runs_and_resets_after_a_stable_one() -> None:
    assert supervisor.next_delay(None, 0.1) == supervisor.MIN_DELAY
    assert supervisor.next_delay(1.0, 0.1) == 2.0
    assert supervisor.next_delay(32.0, 0.1) == supervisor.MAX_DELAY
    assert supervisor.next_delay(60.0, supervisor.STABLE_AFTER) == supervisor.MIN_DELAY


def test_a_killed_service_is_restarted_logged_and_alerted(settings) -> None:
    service = Service("sleeper", [shutil.which("sleep") or "/bin/sleep", "600"], dict(os.environ))
    assert processes.start(settings, service)
    first = _wait(lambda: processes.service_pid(settings, "sleeper"))
    assert first != processes.read_pid(settings, "sleeper")  # the service, not its supervisor

    os.kill(first, signal.SIGKILL)
    second = _wait(
        lambda: (pid := processes.service_pid(settings, "sleeper")) and pid != first and pid
    )
    assert processes.restarts(settings, "sleeper") == 1
    assert processes.read_state(settings, "sleeper")["last_exit"] == -signal.SIGKILL
    log = (settings.log_dir / "sleeper.log").read_text()
    assert "sleeper: exited with code -9" in log and "restart #1" in log
    alert = json.loads((settings.log_dir / "alerts.log").read_text().splitlines()[-1])
    assert alert["kind"] == "service_restart" and "sleeper" in alert["subject"]
    assert not processes.start(settings, service)  # supervised: `make run` leaves it alone

    supervisor_pid = processes.read_pid(settings, "sleeper")
    assert processes.stop(settings, "sleeper")
    for pid in (supervisor_pid, second):
        _wait(lambda pid=pid: not processes._alive(pid), timeout=5)
    assert not processes.state_file(settings, "sleeper").exists()


def test_killing_the_supervisor_takes_the_service_with_it(settings) -> None:
    service = Service("orphan", [shutil.which("sleep") or "/bin/sleep", "600"], dict(os.environ))
    processes.start(settings, service)
    child = _wait(lambda: processes.service_pid(settings, "orphan"))
    os.kill(processes.read_pid(settings, "orphan"), signal.SIGKILL)
    _wait(lambda: not processes._alive(child), timeout=5)


def test_a_service_that_cannot_start_fails_wait_healthy_with_its_log(settings) -> None:
    service = Service("broken", ["/bin/sh", "-c", "echo cannot start >&2; exit 3"], {})
    processes.start(settings, service)
    with pytest.raises(RuntimeError, match="broken exited during start-up"):
        processes.wait_healthy(settings, service, timeout=20)
    assert "cannot start" in (settings.log_dir / "broken.log").read_text()


def test_status_reports_restarts(settings, monkeypatch) -> None:
    monkeypatch.setattr(manage.airflow_service, "services", lambda s: [])
    service = Service("platform", [shutil.which("sleep") or "/bin/sleep", "600"], {})
    processes.start(settings, service)
    first = _wait(lambda: processes.service_pid(settings, "platform"))
    os.kill(first, signal.SIGTERM)
    _wait(lambda: (p := processes.service_pid(settings, "platform")) and p != first)
    rows = {name: state for name, state, _ in manage.status(settings)}
    assert rows["platform"].startswith("running (pid ") and "restarted 1x" in rows["platform"]
