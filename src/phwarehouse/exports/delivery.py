"""E-mail delivery of an export: the period's files attached, over the SMTP server configured
for alerts (PHW_SMTP_HOST, PHW_SMTP_PORT, PHW_SMTP_USER/PASSWORD, PHW_SMTP_FROM, …), to
PHW_EXPORT_TO (comma-separated). Each delivery is recorded next to the period folder
(`<period>.sent.json`, 0600); a period already delivered is not sent again unless forced.
"""

from __future__ import annotations

import json
import mimetypes
import os
import smtplib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from phwarehouse.pipeline.alerts import AlertConfig, send_message


class DeliveryError(RuntimeError):
    pass


def recipients(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(r.strip() for r in (env.get("PHW_EXPORT_TO") or "").split(",") if r.strip())


def sent_record(folder: Path) -> Path:
    return folder.with_name(folder.name + ".sent.json")


def already_sent(folder: Path) -> dict | None:
    path = sent_record(folder)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def send(
    config: AlertConfig,
    to: tuple[str, ...],
    subject: str,
    body: str,
    files: list[Path],
    folder: Path,
    manifest: dict,
) -> dict:
    """Send one message with `files` attached; record the delivery; raise DeliveryError."""
    if not config.smtp_host:
        raise DeliveryError("--send: PHW_SMTP_HOST is not set")
    if not to:
        raise DeliveryError("--send: PHW_EXPORT_TO (recipients) is not set")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config.sender
    msg["To"] = ", ".join(to)
    msg.set_content(body)
    for f in files:
        ctype = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(f.read_bytes(), maintype=maintype, subtype=subtype, filename=f.name)
    try:
        send_message(config, msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"e-mail to {', '.join(to)} failed: {exc}") from exc
    record = {
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "to": list(to),
        "subject": subject,
        "publication_id": manifest["publication_id"],
        "files": manifest["files"],
    }
    path = sent_record(folder)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh, ensure_ascii=False, indent=2)
    return record
