"""Alerts to the data engineers: a log line, a line in the alerts file, an e-mail when SMTP is set.

Configured by environment variables (the stack passes them from `.env` to every Airflow process
and service supervisor; docker-compose passes them through):

- `PHW_SMTP_HOST` (no host: no e-mail), `PHW_SMTP_PORT` (25; 465 means SMTPS, 587 STARTTLS),
  `PHW_SMTP_STARTTLS` (true/false, overrides the port's default), `PHW_SMTP_USER` and
  `PHW_SMTP_PASSWORD` (login, when set), `PHW_SMTP_FROM` (default `phwarehouse@<host name>`),
  `PHW_SMTP_TIMEOUT` (seconds, 30);
- `PHW_ALERT_TO`: recipients, comma-separated (none: no e-mail);
- `PHW_ALERTS_FILE`: JSON lines, mode 0600 (default `$PHW_HOME/logs/alerts.log`).

This module does not import Airflow (service supervisors use it); the Airflow notifier is
`phwarehouse.pipeline.notifier`.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

log = logging.getLogger(__name__)

# what the stack hands on to the processes that may raise alerts
SETTINGS = (
    "PHW_SMTP_HOST",
    "PHW_SMTP_PORT",
    "PHW_SMTP_STARTTLS",
    "PHW_SMTP_USER",
    "PHW_SMTP_PASSWORD",
    "PHW_SMTP_FROM",
    "PHW_SMTP_TIMEOUT",
    "PHW_ALERT_TO",
    # the exports' recipients and appraisal month (phwarehouse.exports), same SMTP server
    "PHW_EXPORT_TO",
    "PHW_APPRAISAL_AS_OF_MONTH",
)

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class AlertConfig:
    smtp_host: str | None
    smtp_port: int
    starttls: bool
    smtp_user: str | None
    smtp_password: str | None
    sender: str
    recipients: tuple[str, ...]
    timeout: float
    alerts_file: Path | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertConfig:
        env = os.environ if env is None else env
        port = int(env.get("PHW_SMTP_PORT") or 25)
        starttls = env.get("PHW_SMTP_STARTTLS")
        alerts_file = env.get("PHW_ALERTS_FILE") or (
            str(Path(env["PHW_HOME"]) / "logs" / "alerts.log") if env.get("PHW_HOME") else None
        )
        return cls(
            smtp_host=env.get("PHW_SMTP_HOST") or None,
            smtp_port=port,
            starttls=(starttls.lower() in _TRUE) if starttls else port == 587,
            smtp_user=env.get("PHW_SMTP_USER") or None,
            smtp_password=env.get("PHW_SMTP_PASSWORD") or None,
            sender=env.get("PHW_SMTP_FROM") or f"phwarehouse@{socket.getfqdn()}",
            recipients=tuple(
                r.strip() for r in (env.get("PHW_ALERT_TO") or "").split(",") if r.strip()
            ),
            timeout=float(env.get("PHW_SMTP_TIMEOUT") or 30),
            alerts_file=Path(alerts_file) if alerts_file else None,
        )

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_host and self.recipients)


def send_mail(config: AlertConfig, subject: str, body: str) -> None:
    """Send one plain-text message to the configured recipients (raises on SMTP errors)."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.recipients)
    msg.set_content(body)
    send_message(config, msg)


def send_message(config: AlertConfig, msg: EmailMessage) -> None:
    """Send a prepared message over the configured SMTP server (SMTPS on 465, STARTTLS when
    set, login when a user is set); raises on SMTP errors."""
    assert config.smtp_host
    if config.smtp_port == 465:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            config.smtp_host,
            config.smtp_port,
            timeout=config.timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.timeout)
    with smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.smtp_user:
            smtp.login(config.smtp_user, config.smtp_password or "")
        smtp.send_message(msg)


def _append(path: Path, record: dict) -> None:
    """One JSON line; the file (and a folder we create) readable by this user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def raise_alert(
    subject: str,
    body: str,
    *,
    kind: str = "failure",
    details: Mapping[str, object] | None = None,
    path: Path | None = None,
    config: AlertConfig | None = None,
) -> dict:
    """Log the alert, append it to the alerts file and e-mail it when SMTP is configured.

    Never raises for a delivery problem: an undeliverable e-mail is logged and recorded in the
    alerts file (`mail: "failed: …"`). Returns the record written.
    """
    config = config or AlertConfig.from_env()
    record: dict = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "subject": subject,
        "body": body,
        **({"details": dict(details)} if details else {}),
        "mail": "not configured",
    }
    log.error("ALERT %s\n%s", subject, body)
    if config.mail_enabled:
        try:
            send_mail(config, subject, body)
            record["mail"] = "sent to " + ", ".join(config.recipients)
        except (OSError, smtplib.SMTPException) as exc:
            record["mail"] = f"failed: {type(exc).__name__}: {exc}"
            log.error("alert e-mail to %s failed: %s", ", ".join(config.recipients), exc)
    target = path or config.alerts_file
    if target is not None:
        try:
            _append(target, record)
        except OSError as exc:
            log.error("cannot write the alerts file %s: %s", target, exc)
    return record
