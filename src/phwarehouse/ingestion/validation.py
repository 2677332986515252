"""Source-contract validation: a received row becomes a ValidRecord or a quarantined row.

Only contract violations quarantine a whole record (spec §6): an unparseable row, a row that is
not an object, an envelope that cannot be stored (record id, version, updated_at, deleted flag),
a missing person reference or event date. Any other field that is of the wrong type (text in a
numeric field, an impossible date) or cannot be stored at all (a NUL character, a lone
surrogate, a non-finite number) is a *field issue*: the record is kept, the staging models'
safe casts treat the field as missing, and the issue is listed with its reason
(stg_platform__field_issues -> int_quality__exclusions). Implausible values (an SBP of 1400)
are the platform's data, handled by the models' plausibility rules.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any

from phwarehouse.ingestion.contracts import EntityContract
from phwarehouse.ingestion.raw_store import FieldIssue, RejectedRecord, ValidRecord

#: raw.<entity>.version is a PostgreSQL integer
MAX_VERSION = 2**31 - 1
#: integer fields at or beyond this magnitude, or not integral, are nulled by the staging casts
#: (`? (@ < 1e9 && @ == @.floor())`)
INTEGER_LIMIT = 1e9
#: the spellings of a boolean the staging models read (besides JSON true / false)
BOOLEAN_TEXTS = frozenset({"true", "t", "1", "是", "false", "f", "0", "否"})

REASONS = (
    "unparseable",
    "not_an_object",
    "unstorable_field_name",
    "missing_record_id",
    "invalid_record_id",
    "invalid_version",
    "invalid_updated_at",
    "invalid_deleted_flag",
    "missing_person_ref",
    "invalid_person_ref",
    "missing_event_date",
    "invalid_event_date",
)
FIELD_ISSUE_REASONS = ("wrong_type", "out_of_range", "unstorable_value")


def storable(value: Any) -> bool:
    """Whether PostgreSQL's jsonb can hold `value`: no NUL, no lone surrogate, finite numbers."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable(v) for v in value)
    return True


def safe_text(text: str) -> str:
    """`text` with what a PostgreSQL text column cannot hold escaped (NUL, lone surrogates)."""
    if storable(text):
        return text
    escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped.replace("\x00", "\\u0000")


def _text(obj: Any) -> str:
    if isinstance(obj, str):
        return safe_text(obj)
    try:
        text = json.dumps(obj, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return safe_text(repr(obj))
    return text if storable(text) else json.dumps(obj, ensure_ascii=True, sort_keys=True)


def parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or not storable(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10 or not storable(value):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < 1e300 else math.inf
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool) or (
        isinstance(value, str) and value.strip().lower() in BOOLEAN_TEXTS
    )


def _type_issue(contract: EntityContract, field: str, value: Any) -> str | None:
    """The reason a present, storable value of `field` is unusable, or None."""
    if field in contract.numeric_fields:
        number = _number(value)
        if number is None:
            return "wrong_type"
        if not math.isfinite(number):
            return "out_of_range"
        if field in contract.integer_fields:
            if abs(number) >= INTEGER_LIMIT:
                return "out_of_range"
            if not number.is_integer():
                return "wrong_type"  # spec §6: "a dose number that is not an integer"
        return None
    parses = (
        (contract.date_fields, parse_date),
        (contract.datetime_fields, parse_timestamp),
        (contract.boolean_fields, lambda v: v if _is_boolean(v) else None),
    )
    for fields, parse in parses:
        if field in fields and parse(value) is None:
            return "wrong_type"
    return None


def _field_issues(contract: EntityContract, obj: dict) -> tuple[dict, tuple[FieldIssue, ...]]:
    """The payload to store (unstorable values nulled) and the issues of its fields."""
    issues: list[FieldIssue] = []
    payload = dict(obj)
    for field, value in obj.items():
        if field in contract.envelope or value is None or value == "":
            continue
        if not storable(value):
            payload[field] = None
            issues.append(FieldIssue(field, "unstorable_value", None))
            continue
        reason = _type_issue(contract, field, value)
        if reason is not None:
            issues.append(FieldIssue(field, reason, _text(value)[:200]))
    return payload, tuple(issues)


def _envelope_violation(contract: EntityContract, obj: dict, deleted: bool) -> str | None:
    """Why the record cannot be kept at all (besides its id), or None."""
    version = obj.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
        return "invalid_version"
    if parse_timestamp(obj.get("updated_at")) is None:
        return "invalid_updated_at"
    if obj.get("deleted") not in (None, True, False):
        return "invalid_deleted_flag"
    if deleted:
        return None
    if contract.person_ref:
        ref = obj.get(contract.person_ref)
        if ref in (None, ""):
            return f"missing_person_ref:{contract.person_ref}"
        if not isinstance(ref, str | int) or isinstance(ref, bool) or not storable(ref):
            return f"invalid_person_ref:{contract.person_ref}"
    if contract.event_date:
        raw_date = obj.get(contract.event_date)
        if raw_date in (None, ""):
            return f"missing_event_date:{contract.event_date}"
        as_date = (
            f"{raw_date}-01" if contract.event_is_month and isinstance(raw_date, str) else raw_date
        )
        if parse_date(as_date) is None:
            return f"invalid_event_date:{contract.event_date}"
    return None


def validate(contract: EntityContract, obj: Any) -> ValidRecord | RejectedRecord:
    """Check one received row against the entity's contract."""
    if isinstance(obj, str | bytes):
        try:
            obj = json.loads(obj)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            text = obj.decode("utf-8", "replace") if isinstance(obj, bytes) else obj
            return RejectedRecord("unparseable", safe_text(text))
    text = _text(obj)
    if not isinstance(obj, dict):
        return RejectedRecord("not_an_object", text)
    if not all(isinstance(k, str) and storable(k) for k in obj):
        return RejectedRecord("unstorable_field_name", text)
    record_id = obj.get("record_id")
    if record_id in (None, ""):
        return RejectedRecord("missing_record_id", text)
    if isinstance(record_id, bool) or not isinstance(record_id, str | int):
        return RejectedRecord("invalid_record_id", text)
    if not storable(record_id) or not str(record_id).strip():
        return RejectedRecord("invalid_record_id", text)
    record_id = str(record_id)
    deleted = obj.get("deleted") is True
    violation = _envelope_violation(contract, obj, deleted)
    if violation is not None:
        return RejectedRecord(violation, text, record_id)
    updated_at = parse_timestamp(obj["updated_at"])
    assert updated_at is not None
    payload, issues = _field_issues(contract, obj)
    return ValidRecord(record_id, obj["version"], updated_at, deleted, payload, issues)
