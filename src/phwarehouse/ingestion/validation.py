"""Source-contract validation: a received row becomes a ValidRecord or a quarantined row.

Only contract violations are rejected here (spec §6): unparseable rows, wrong types, missing
record id, person reference or event date. Implausible values (an SBP of 1400) are the platform's
data, kept in raw and handled by the models' plausibility rules.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from phwarehouse.ingestion.contracts import EntityContract
from phwarehouse.ingestion.raw_store import RejectedRecord, ValidRecord

REASONS = (
    "unparseable",
    "not_an_object",
    "missing_record_id",
    "invalid_version",
    "invalid_updated_at",
    "missing_person_ref",
    "missing_event_date",
    "invalid_event_date",
    "wrong_type",
)


def _text(obj: Any) -> str:
    return obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, sort_keys=True)


def parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def validate(contract: EntityContract, obj: Any) -> ValidRecord | RejectedRecord:
    """Check one received row against the entity's contract."""
    if isinstance(obj, str | bytes):
        try:
            obj = json.loads(obj)
        except (json.JSONDecodeError, UnicodeDecodeError):
            text = obj.decode("utf-8", "replace") if isinstance(obj, bytes) else obj
            return RejectedRecord("unparseable", text)
    text = _text(obj)
    if not isinstance(obj, dict):
        return RejectedRecord("not_an_object", text)
    record_id = obj.get("record_id")
    if record_id in (None, "") or not isinstance(record_id, str | int):
        return RejectedRecord("missing_record_id", text)
    record_id = str(record_id)
    version = obj.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return RejectedRecord("invalid_version", text, record_id)
    updated_at = parse_timestamp(obj.get("updated_at"))
    if updated_at is None:
        return RejectedRecord("invalid_updated_at", text, record_id)
    deleted = obj.get("deleted") is True
    if not deleted:
        if contract.person_ref and obj.get(contract.person_ref) in (None, ""):
            return RejectedRecord(f"missing_person_ref:{contract.person_ref}", text, record_id)
        if contract.event_date:
            raw_date = obj.get(contract.event_date)
            if raw_date in (None, ""):
                return RejectedRecord(f"missing_event_date:{contract.event_date}", text, record_id)
            as_date = (
                f"{raw_date}-01"
                if contract.event_is_month and isinstance(raw_date, str)
                else raw_date
            )
            if parse_date(as_date) is None:
                return RejectedRecord(f"invalid_event_date:{contract.event_date}", text, record_id)
        for field in contract.numeric_fields:
            value = obj.get(field)
            if value not in (None, "") and not _is_number(value):
                return RejectedRecord(f"wrong_type:{field}", text, record_id)
        for field in contract.date_fields:
            value = obj.get(field)
            if value not in (None, "") and parse_date(value) is None:
                return RejectedRecord(f"wrong_type:{field}", text, record_id)
    return ValidRecord(record_id, version, updated_at, deleted, obj)
