"""Keep one service of the local stack running: restart it when it exits, with back-off.

`python -m phwarehouse.stack.supervisor --name NAME --state FILE [--alerts FILE] -- COMMAND...`

`processes.start` runs every service under this supervisor. The supervisor is the process the
PID file `run/<name>.pid` names (its own session, so `processes.stop` signals its group); the
service runs in a process group of its own, recorded with the restart count in
`run/<name>.state` (JSON). When the service exits for any reason other than a stop, whatever it
left behind in its group is ended, the exit is logged (to the service's log, which is the
supervisor's output, and to the stack's alerts file) and the service is started again after a
back-off: 1 s, doubling for each exit that follows a short run (< 60 s), at most 60 s.

SIGTERM / SIGINT stop the supervisor: the service's group gets SIGTERM, SIGKILL after a grace
period, and the supervisor exits. If the supervisor itself is killed, the kernel sends the
service SIGTERM (parent-death signal), so nothing runs unsupervised.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

MIN_DELAY = 1.0
MAX_DELAY = 60.0
STABLE_AFTER = 60.0  # a run this long resets the back-off
STOP_GRACE = 15.0  # seconds between SIGTERM and SIGKILL of the service's group

_PR_SET_PDEATHSIG = 1


def next_delay(previous: float | None, ran_for: float) -> float:
    """Back-off before the next start: MIN_DELAY after a stable run, else doubled, capped."""
    if previous is None or ran_for >= STABLE_AFTER:
        return MIN_DELAY
    return min(MAX_DELAY, previous * 2)


def _say(name: str, message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"[phw-supervisor {stamp}] {name}: {message}", flush=True)


def _write_state(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh)
    os.replace(tmp, path)


def _in_child() -> None:
    """Runs in the forked child before exec: own process group, SIGTERM when we die."""
    os.setpgid(0, 0)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _end_group(pgid: int, grace: float) -> None:
    """SIGTERM a process group, SIGKILL whatever is left after `grace` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


class Supervisor:
    def __init__(self, name: str, command: list[str], state: Path, alerts: Path | None) -> None:
        self.name = name
        self.command = command
        self.state_path = state
        self.alerts = alerts
        self.stopping = False
        self.child: subprocess.Popen | None = None
        self.state: dict = {
            "name": name,
            "supervisor": os.getpid(),
            "child": None,
            "started_at": None,
            "restarts": 0,
            "last_exit": None,
            "last_exit_at": None,
        }

    def _on_stop_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGTERM)

    def _alert(self, message: str) -> None:
        """One line in the stack's alerts file (the data engineers' inbox when SMTP is off)."""
        if self.alerts is None:
            return
        try:
            from phwarehouse.pipeline import alerts

            alerts.raise_alert(
                f"service {self.name} exited and was restarted",
                message,
                kind="service_restart",
                path=self.alerts,
            )
        except Exception as exc:  # an alert must never stop the supervision
            _say(self.name, f"could not record the alert: {exc}")

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_stop_signal)
        delay: float | None = None
        while not self.stopping:
            started = time.monotonic()
            try:
                self.child = subprocess.Popen(
                    self.command, stdin=subprocess.DEVNULL, preexec_fn=_in_child
                )
            except OSError as exc:
                _say(self.name, f"cannot start {self.command[0]}: {exc}")
                return 127
            self.state.update(
                child=self.child.pid, started_at=datetime.now(UTC).isoformat(timespec="seconds")
            )
            _write_state(self.state_path, self.state)
            if self.stopping:  # a stop signal arrived between fork and recording the child
                os.killpg(self.child.pid, signal.SIGTERM)
            code = self._wait_child()
            ran_for = time.monotonic() - started
            # the service's helpers (workers, log servers) must not outlive it
            _end_group(self.child.pid, grace=STOP_GRACE if self.stopping else 5.0)
            if self.stopping:
                break
            delay = next_delay(delay, ran_for)
            self.state.update(
                child=None,
                restarts=self.state["restarts"] + 1,
                last_exit=code,
                last_exit_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            _write_state(self.state_path, self.state)
            message = (
                f"exited with code {code} after {ran_for:.0f}s; restart "
                f"#{self.state['restarts']} in {delay:.0f}s"
            )
            _say(self.name, message)
            self._alert(f"{self.name} {message} (log: the service's log in the stack's logs)")
            self._sleep(delay)
        _say(self.name, "stopped")
        with contextlib.suppress(FileNotFoundError):
            self.state_path.unlink()
        return 0

    def _wait_child(self) -> int:
        assert self.child is not None
        stop_deadline: float | None = None
        while True:
            try:
                return self.child.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            if self.stopping:
                stop_deadline = stop_deadline or time.monotonic() + STOP_GRACE
                if time.monotonic() > stop_deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.child.pid, signal.SIGKILL)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="phw-supervisor", description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--alerts", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to supervise")
    return Supervisor(args.name, command, args.state, args.alerts).run()


if __name__ == "__main__":
    sys.exit(main())
