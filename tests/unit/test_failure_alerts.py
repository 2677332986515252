"""Failure alerts (issue #9, item 5): the Airflow notifier logs, writes the alerts file and
e-mails over SMTP when configured; without SMTP it only logs and writes the file."""

from __future__ import annotations

import base64
import json
import socketserver
import stat
import threading
from email import message_from_bytes
from pathlib import Path
from unittest import mock

import pytest

from phwarehouse.pipeline import alerts
from phwarehouse.pipeline.notifier import FailureNotifier, describe_failure


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def _send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        server = self.server
        self._send("220 fake ESMTP")
        envelope: dict = {"rcpt": []}
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._send("250-fake")
                self._send("250 AUTH PLAIN")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(line.split()[2]).split(b"\0")
                server.logins.append((user.decode(), password.decode()))  # type: ignore[attr-defined]
                self._send("235 ok")
            elif verb == "MAIL":
                envelope["from"] = line.split(":", 1)[1].strip("<> ")
                self._send("250 ok")
            elif verb == "RCPT":
                envelope["rcpt"].append(line.split(":", 1)[1].strip("<> "))
                self._send("250 ok")
            elif verb == "DATA":
                self._send("354 end with .")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                envelope["message"] = message_from_bytes(data)
                server.messages.append(envelope)  # type: ignore[attr-defined]
                envelope = {"rcpt": []}
                self._send("250 queued")
            elif verb == "QUIT":
                self._send("221 bye")
                return
            else:
                self._send("250 ok")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.messages = []  # type: ignore[attr-defined]
    server.logins = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Dag:
    dag_id = "platform_ingest"


class _Ti:
    dag_id = "platform_ingest"
    task_id = "ingest"
    map_index = 3
    try_number = 4
    run_id = "scheduled__2026-01-02"
    log_url = "http://127.0.0.1:8080/dags/platform_ingest/runs/x/tasks/ingest"


def _context() -> dict:
    return {
        "dag": _Dag(),
        "run_id": "scheduled__2026-01-02",
        "ti": _Ti(),
        "reason": "task_failure",
        "exception": ConnectionError("platform answered 503 for ten minutes"),
    }


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PHW_ALERTS_FILE": str(tmp_path / "logs" / "alerts.log"), **extra}


def test_description_names_the_dag_run_task_and_reason() -> None:
    subject, body, details = describe_failure(_context())
    assert subject == "[phwarehouse] platform_ingest failed (run scheduled__2026-01-02)"
    assert details["task_id"] == "ingest" and details["map_index"] == 3
    assert "reason: task_failure" in body
    assert "ConnectionError: platform answered 503" in body
    assert _Ti.log_url in body


def test_without_smtp_the_notifier_logs_and_writes_the_alerts_file(tmp_path, caplog) -> None:
    with (
        mock.patch.dict("os.environ", _env(tmp_path), clear=True),
        mock.patch("smtplib.SMTP") as smtp,
    ):
        FailureNotifier().notify(_context())
    smtp.assert_not_called()
    assert "platform_ingest failed" in caplog.text
    path = tmp_path / "logs" / "alerts.log"
    record = json.loads(path.read_text().splitlines()[-1])
    assert record["kind"] == "airflow_failure"
    assert record["mail"] == "not configured"
    assert record["details"]["dag_id"] == "platform_ingest"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_with_smtp_the_notifier_e_mails_every_recipient(tmp_path, smtp_server) -> None:
    port = smtp_server.server_address[1]
    env = _env(
        tmp_path,
        PHW_SMTP_HOST="127.0.0.1",
        PHW_SMTP_PORT=str(port),
        PHW_SMTP_USER="alerts",
        PHW_SMTP_PASSWORD="s3cret",
        PHW_SMTP_FROM="warehouse@wjw.example",
        PHW_ALERT_TO="de1@wjw.example, de2@wjw.example",
        PHW_SMTP_TIMEOUT="5",
    )
    with mock.patch.dict("os.environ", env, clear=True):
        FailureNotifier().notify(_context())
    assert smtp_server.logins == [("alerts", "s3cret")]
    (mail,) = smtp_server.messages
    assert mail["from"] == "warehouse@wjw.example"
    assert mail["rcpt"] == ["de1@wjw.example", "de2@wjw.example"]
    message = mail["message"]
    assert message["Subject"] == "[phwarehouse] platform_ingest failed (run scheduled__2026-01-02)"
    assert "platform answered 503" in message.get_payload(decode=True).decode()
    record = json.loads((tmp_path / "logs" / "alerts.log").read_text().splitlines()[-1])
    assert record["mail"] == "sent to de1@wjw.example, de2@wjw.example"
    assert "s3cret" not in (tmp_path / "logs" / "alerts.log").read_text()


def test_an_unreachable_smtp_server_is_recorded_not_raised(tmp_path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _env(tmp_path, PHW_SMTP_HOST="127.0.0.1", PHW_SMTP_PORT=str(port), PHW_ALERT_TO="x@y")
    with mock.patch.dict("os.environ", env, clear=True):
        FailureNotifier().notify(_context())
    record = json.loads((tmp_path / "logs" / "alerts.log").read_text().splitlines()[-1])
    assert record["mail"].startswith("failed: ConnectionRefusedError")


def test_port_587_uses_starttls_and_465_smtps() -> None:
    config = alerts.AlertConfig.from_env(
        {"PHW_SMTP_HOST": "mail", "PHW_SMTP_PORT": "587", "PHW_ALERT_TO": "a@b"}
    )
    assert config.starttls and config.mail_enabled
    with mock.patch("smtplib.SMTP") as smtp:
        alerts.send_mail(config, "s", "b")
    smtp.return_value.starttls.assert_called_once()
    smtp.return_value.send_message.assert_called_once()
    config = alerts.AlertConfig.from_env({"PHW_SMTP_HOST": "mail", "PHW_SMTP_PORT": "465"})
    assert not config.mail_enabled  # no recipients: log and file only
    with mock.patch("smtplib.SMTP_SSL") as smtps:
        alerts.send_mail(config, "s", "b")
    smtps.assert_called_once()


def test_the_alerts_file_defaults_to_the_stack_logs() -> None:
    config = alerts.AlertConfig.from_env({"PHW_HOME": "/srv/phw"})
    assert config.alerts_file == Path("/srv/phw/logs/alerts.log")
    assert alerts.AlertConfig.from_env({}).alerts_file is None


def test_every_dag_alerts_on_failure() -> None:
    """The DAG files pass the notifier as their DAG-level on_failure_callback (checked in the
    source: parsing the transform DAG needs the dbt manifest)."""
    dags = Path(__file__).resolve().parents[2] / "dags"
    for path in dags.glob("*.py"):
        assert "on_failure_callback=notifier.on_failure()" in path.read_text(), path.name


def test_the_stack_hands_the_smtp_settings_to_airflow(tmp_path) -> None:
    from phwarehouse.settings import load_settings
    from phwarehouse.stack.airflow_service import airflow_env

    settings = load_settings(tmp_path, {"PHW_SMTP_HOST": "mail.example", "PHW_ALERT_TO": "a@b"})
    env = airflow_env(settings)
    assert env["PHW_SMTP_HOST"] == "mail.example" and env["PHW_ALERT_TO"] == "a@b"
    assert env["PHW_ALERTS_FILE"] == str(tmp_path / "logs" / "alerts.log")
