"""Background services started by the stack, tracked by PID files under $PHW_HOME/run.

Each service runs under a supervisor (`phwarehouse.stack.supervisor`) that restarts it when it
exits: `run/<name>.pid` names the supervisor, `run/<name>.state` the service's current process
and how often it was restarted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from phwarehouse.settings import Settings


@dataclass(frozen=True)
class Service:
    """A long-running process of the stack."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int | None = None
    health_url: str | None = None
    cwd: Path | None = None


def pid_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def state_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.state"


def read_state(settings: Settings, name: str) -> dict:
    """The supervisor's record of a service: child pid (None while it waits to restart),
    restarts, last exit code. Empty when the service is not supervised (or not running)."""
    try:
        return json.loads(state_file(settings, name).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def service_pid(settings: Settings, name: str) -> int | None:
    """PID of the service's own process (not its supervisor), when it runs."""
    if not read_pid(settings, name):
        return None
    child = read_state(settings, name).get("child")
    return child if child and _alive(child) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def read_pid(settings: Settings, name: str) -> int | None:
    path = pid_file(settings, name)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return None if _is_zombie(pid) else pid


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


def wait_for(check: Callable[[], bool], what: str, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    tail = ""
    if log and log.exists():
        tail = (
            "\n--- last lines of " + str(log) + " ---\n" + log.read_text(errors="replace")[-3000:]
        )
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s{tail}")


def supervised(settings: Settings, service: Service) -> list[str]:
    """The command that runs `service` under its supervisor (this venv's Python)."""
    return [
        sys.executable,
        "-m",
        "phwarehouse.stack.supervisor",
        "--name",
        service.name,
        "--state",
        str(state_file(settings, service.name)),
        "--alerts",
        str(settings.log_dir / "alerts.log"),
        "--",
        *service.command,
    ]


def _alert_env(settings: Settings) -> dict[str, str]:
    from phwarehouse.pipeline import alerts

    return {k: settings.values[k] for k in alerts.SETTINGS if settings.values.get(k)}


def start(settings: Settings, service: Service) -> bool:
    """Start `service` (under its supervisor) unless its recorded supervisor is alive.
    Returns True when started now."""
    key = (str(settings.run_dir), service.name)
    if read_pid(settings, service.name):
        _exits_before_wait[key] = restarts(settings, service.name)
        return False
    if service.port and port_open(service.port):
        raise RuntimeError(
            f"port {service.port} for {service.name} is taken by another process: "
            f"stop it or choose another port in .env"
        )
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.chmod(0o700)
    log = settings.log_dir / f"{service.name}.log"
    with log.open("ab") as out:
        log.chmod(0o600)
        proc = subprocess.Popen(
            supervised(settings, service),
            # the supervisor e-mails its restart alerts when SMTP is configured
            env={**service.env, **_alert_env(settings)},
            cwd=service.cwd or settings.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=0o077,  # logs, caches and dbt artifacts the services write: owner only
        )
    pid_file(settings, service.name).write_text(str(proc.pid))
    _exits_before_wait[key] = 0
    return True


# (run dir, service) -> its restarts when `start` last saw it: wait_healthy counts exits since
_exits_before_wait: dict[tuple[str, str], int] = {}
START_FAILURES = 3


def restarts(settings: Settings, name: str) -> int:
    return int(read_state(settings, name).get("restarts") or 0)


def wait_healthy(settings: Settings, service: Service, timeout: float = 180) -> None:
    log = settings.log_dir / f"{service.name}.log"
    key = (str(settings.run_dir), service.name)
    restarts_before = _exits_before_wait.get(key, restarts(settings, service.name))

    def check() -> bool:
        # the supervisor would restart it for ever: exits in a row while we wait (a crash
        # loop, not one exit it recovers from) are a failed start
        exits = restarts(settings, service.name) - restarts_before
        if not read_pid(settings, service.name) or exits >= START_FAILURES:
            raise RuntimeError(
                f"{service.name} exited during start-up (restarted {exits}x); see {log}:\n"
                + (log.read_text(errors="replace")[-3000:] if log.exists() else "")
            )
        if (key in _exits_before_wait or read_state(settings, service.name)) and not service_pid(
            settings, service.name
        ):
            return False  # its supervisor has not started it (again) yet
        if service.health_url:
            return http_ok(service.health_url)
        if service.port:
            return port_open(service.port)
        return True

    wait_for(check, service.name, timeout, log)


def stop(settings: Settings, name: str, timeout: float = 20) -> bool:
    """Stop a service: SIGTERM to its supervisor's group (the supervisor ends the service's
    group), then SIGKILL to both groups. True when it was running."""
    pid = read_pid(settings, name)
    child = read_state(settings, name).get("child")
    pid_file(settings, name).unlink(missing_ok=True)
    if not pid:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    groups = [pid] + ([child] if child else [])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_group_alive(g) for g in groups):
            break
        time.sleep(0.3)
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    state_file(settings, name).unlink(missing_ok=True)
    return True


def _group_alive(pgid: int) -> bool:
    """True while a process of group `pgid` runs (zombies awaiting their parent do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def recorded_services(settings: Settings) -> list[str]:
    if not settings.run_dir.exists():
        return []
    return sorted(p.stem for p in settings.run_dir.glob("*.pid"))
