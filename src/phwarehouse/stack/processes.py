"""Background services started by the stack, tracked by PID files under $PHW_HOME/run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
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


def start(settings: Settings, service: Service) -> bool:
    """Start `service` unless its recorded PID is alive. Returns True when started now."""
    if read_pid(settings, service.name):
        return False
    if service.port and port_open(service.port):
        raise RuntimeError(
            f"port {service.port} for {service.name} is taken by another process: "
            f"stop it or choose another port in .env"
        )
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log = settings.log_dir / f"{service.name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            service.command,
            env=service.env,
            cwd=service.cwd or settings.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file(settings, service.name).write_text(str(proc.pid))
    return True


def wait_healthy(settings: Settings, service: Service, timeout: float = 180) -> None:
    log = settings.log_dir / f"{service.name}.log"

    def check() -> bool:
        if not read_pid(settings, service.name):
            raise RuntimeError(
                f"{service.name} exited during start-up; see {log}:\n"
                + (log.read_text(errors="replace")[-3000:] if log.exists() else "")
            )
        if service.health_url:
            return http_ok(service.health_url)
        if service.port:
            return port_open(service.port)
        return True

    wait_for(check, service.name, timeout, log)


def stop(settings: Settings, name: str, timeout: float = 20) -> bool:
    """Stop a service's whole process group: SIGTERM, then SIGKILL. True when it was running."""
    pid = read_pid(settings, name)
    pid_file(settings, name).unlink(missing_ok=True)
    if not pid:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


def recorded_services(settings: Settings) -> list[str]:
    if not settings.run_dir.exists():
        return []
    return sorted(p.stem for p in settings.run_dir.glob("*.pid"))
