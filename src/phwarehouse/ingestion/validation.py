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
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

import msgspec

from phwarehouse import contract as platform_contract
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
#: the only JSON spellings that decode to a NUL or a lone surrogate (valid pairs match too)
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_STRICT_DECODER = msgspec.json.Decoder()


class DecodedText(str):
    """A record's JSON text as received, that `decode_record` decoded strictly: valid UTF-8,
    no NaN or Infinity, no number beyond a float's range."""


def decode_record(text: str | bytes) -> tuple[Any, DecodedText | None]:
    """Parse one record's JSON text, with the text when it was decoded strictly (msgspec);
    what msgspec refuses (NaN, 1e400, a lone surrogate, invalid UTF-8) is parsed by `json`, as
    before, without a text. ValueError or RecursionError: the text is no JSON."""
    try:
        obj = _STRICT_DECODER.decode(text)
    except (msgspec.DecodeError, UnicodeError):
        return json.loads(text), None
    return obj, DecodedText(text, "utf-8") if isinstance(text, bytes) else DecodedText(text)


def storable(value: Any) -> bool:
    """Whether PostgreSQL's jsonb can hold `value`: no NUL, no lone surrogate, finite numbers."""
    if isinstance(value, str):
        if "\x00" in value:
            return False
        if value.isascii():  # no surrogate: spares the encoding below
            return True
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
    return _iso_timestamp(value)


def _iso_timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp (UTC when it has no offset); None when it is none."""
    try:
        parsed = datetime.fromisoformat(value)  # reads a `Z` offset since Python 3.11
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc_text(value: str) -> str | None:
    """`value`, the text of a timestamp that parsed, if it is spelled exactly
    `YYYY-MM-DDTHH:MM:SSZ`, which PostgreSQL reads as Python does, so a COPY can take it as
    received; else None (Python also reads e.g. `2026-03-02T08:30.25Z` or week dates, which
    PostgreSQL reads otherwise or refuses). Twenty characters with these separators in these
    places that parsed are that spelling: Python reads only ASCII digits between them."""
    return value if len(value) == 20 and value[4::3] == "--T::Z" else None


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
    if field in contract.date_fields:
        usable = parse_date(value) is not None
    elif field in contract.datetime_fields:
        usable = parse_timestamp(value) is not None
    else:
        usable = field not in contract.boolean_fields or _is_boolean(value)
    return None if usable else "wrong_type"


_TYPED_FIELDS: dict[str, frozenset[str]] = {}


def _typed_fields(contract: EntityContract) -> frozenset[str]:
    """The fields whose type `_type_issue` checks (cached by entity: hashing the contract
    itself for every record cost more than the check)."""
    typed = _TYPED_FIELDS.get(contract.name)
    if typed is None:
        typed = _TYPED_FIELDS[contract.name] = frozenset(
            contract.numeric_fields
            + contract.date_fields
            + contract.datetime_fields
            + contract.boolean_fields
        )
    return typed


def _field_issues(contract: EntityContract, obj: dict) -> tuple[dict, tuple[FieldIssue, ...]]:
    """The payload to store (unstorable values nulled; `obj` itself when none) and the issues
    of its fields. Envelope fields are only checked for storability (a tombstone's keys)."""
    typed = _typed_fields(contract)
    issues: list[FieldIssue] = []
    payload = obj
    for field, value in obj.items():
        if value is None or value == "":
            continue
        if not storable(value):
            if payload is obj:
                payload = dict(obj)
            payload[field] = None
            issues.append(FieldIssue(field, "unstorable_value", None))
        elif field in typed:
            _add_type_issue(issues, contract, field, value)
    return payload, tuple(issues)


#: kinds of typed field whose usual valid values `_type_issues` recognises without `_type_issue`
_INTEGER, _NUMBER, _DATE, _OTHER = range(4)
_TYPED_CHECKS: dict[str, tuple[tuple[str, int], ...]] = {}


def _typed_checks(contract: EntityContract) -> tuple[tuple[str, int], ...]:
    """Each typed field of the entity with its kind (cached by entity)."""
    checks = _TYPED_CHECKS.get(contract.name)
    if checks is None:

        def kind(field: str) -> int:
            if field in contract.integer_fields:
                return _INTEGER
            if field in contract.numeric_fields:
                return _NUMBER
            return _DATE if field in contract.date_fields else _OTHER

        checks = tuple((f, kind(f)) for f in sorted(_typed_fields(contract)))
        _TYPED_CHECKS[contract.name] = checks
    return checks


def _type_issues(contract: EntityContract, payload: dict) -> tuple[FieldIssue, ...]:
    """The issues of a payload whose every value is storable: its typed fields' only, in the
    payload's order. A plain integer within bounds, a finite number or a valid date is
    accepted here; any other value is judged by `_type_issue`."""
    issues: list[FieldIssue] = []
    for field, kind in _typed_checks(contract):
        value = payload.get(field)
        if value is None or value == "":
            continue
        number = type(value)
        if kind == _INTEGER:
            if number is int and -INTEGER_LIMIT < value < INTEGER_LIMIT:
                continue
        elif kind == _NUMBER:
            if (number is int and abs(value) < 1e300) or (number is float and math.isfinite(value)):
                continue
        elif kind == _DATE and parse_date(value) is not None:
            continue
        _add_type_issue(issues, contract, field, value)
    if len(issues) > 1:
        order = {field: i for i, field in enumerate(payload)}
        issues.sort(key=lambda issue: order[issue.field])
    return tuple(issues)


def _add_type_issue(
    issues: list[FieldIssue], contract: EntityContract, field: str, value: Any
) -> None:
    reason = _type_issue(contract, field, value)
    if reason is not None:
        issues.append(FieldIssue(field, reason, _text(value)[:200]))


def _envelope_violation(
    contract: EntityContract, obj: dict, deleted: bool, updated_at: datetime | None
) -> str | None:
    """Why the record cannot be kept at all (besides its id), or None; `updated_at` is the
    record's parsed `updated_at`."""
    version = obj.get("version")
    if type(version) is not int and (isinstance(version, bool) or not isinstance(version, int)):
        return "invalid_version"
    if not 1 <= version <= MAX_VERSION:
        return "invalid_version"
    if updated_at is None:
        return "invalid_updated_at"
    if obj.get("deleted") not in (None, True, False):
        return "invalid_deleted_flag"
    if deleted:
        return None
    if contract.person_ref:
        ref = obj.get(contract.person_ref)
        if type(ref) is str and ref and ref.isascii() and "\x00" not in ref:
            pass  # the usual reference, spared the checks below
        elif ref in (None, ""):
            return f"missing_person_ref:{contract.person_ref}"
        elif not isinstance(ref, str | int) or isinstance(ref, bool) or not storable(ref):
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


def _record_id_violation(obj: dict) -> str | None:
    """Why the record's id cannot be stored, or None."""
    record_id = obj.get("record_id")
    if type(record_id) is str and record_id and record_id.isascii() and "\x00" not in record_id:
        return None if record_id.strip() else "invalid_record_id"  # the usual id, spared below
    if record_id in (None, ""):
        return "missing_record_id"
    if isinstance(record_id, bool) or not isinstance(record_id, str | int):
        return "invalid_record_id"
    if not storable(record_id) or not str(record_id).strip():
        return "invalid_record_id"
    return None


def _shape_violation(obj: Any, trusted: bool = False) -> str | None:
    """Why a parsed row is no storable object with a storable id, or None. `trusted`: `obj`
    was decoded strictly from a text without risky escapes, so its keys are storable."""
    if not isinstance(obj, dict):
        return "not_an_object"
    if not trusted and not all(isinstance(k, str) and storable(k) for k in obj):
        return "unstorable_field_name"
    return _record_id_violation(obj)


def copyable_text(text: str | None) -> str | None:
    """`text` if it may go to a jsonb COPY as received: no escape that could decode to a NUL
    or a lone surrogate (PostgreSQL rejects both); None otherwise, so the payload is
    serialised instead. Non-finite numbers need no check here: a strict decoder refuses them,
    and otherwise they are nulled, and a nulled payload is always serialised."""
    if text is None or _RISKY_ESCAPE.search(text):
        return None
    return text


#: the msgspec type of a clean value of each contract field type (None allowed)
_INT = Annotated[int, msgspec.Meta(gt=-int(INTEGER_LIMIT), lt=int(INTEGER_LIMIT))]
_NUMBER = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)] | float
_CLEAN_TYPES: dict[str, Any] = {
    "string": str,
    "integer": _INT,
    "number": _NUMBER,
    "boolean": bool,
    "date": date,
    "datetime": str,  # checked by parse_timestamp after decoding
    "month": str,  # checked by parse_date after decoding
}
_CLEAN_SHAPES: dict[str, msgspec.json.Decoder] = {}


def _clean_shape(contract: EntityContract) -> msgspec.json.Decoder:
    """A decoder of the entity's records that accepts only a clean record: every field of the
    contract and no other, each of its type (or null), the keys present. What it accepts
    `validate` would keep as received with no field issue; anything else it refuses and
    `validate` judges (cached by entity)."""
    decoder = _CLEAN_SHAPES.get(contract.name)
    if decoder is None:
        entity = platform_contract.ENTITIES[contract.name]
        keys = {contract.person_ref, contract.event_date} - {None}
        fields: list[tuple] = [
            ("record_id", str),
            ("version", Annotated[int, msgspec.Meta(ge=1, le=MAX_VERSION)]),
            ("updated_at", str),
            ("deleted", bool | None, None),
        ]
        for f in entity.payload_fields():
            clean = _CLEAN_TYPES[f.type]
            if f.name == contract.person_ref:
                fields.append((f.name, Annotated[str, msgspec.Meta(min_length=1)]))
            elif f.name in keys:
                fields.append((f.name, clean))
            else:
                fields.append((f.name, clean | None, None))
        shape = msgspec.defstruct(  # gc=False: texts, numbers and dates form no cycle
            f"Clean_{contract.name}", fields, forbid_unknown_fields=True, kw_only=True, gc=False
        )
        decoder = _CLEAN_SHAPES[contract.name] = msgspec.json.Decoder(shape)
    return decoder


def validate_clean(
    contract: EntityContract, data: bytes, escapes: bool = True
) -> ValidRecord | None:
    """The fast path of `validate` for a record received as bytes: the same ValidRecord when
    the record is clean (see `_clean_shape`), decoded once in C; None when it needs `validate`
    (a tombstone, a field of another type or unknown, an envelope or key it would reject).
    `escapes`: whether `data` may hold a `\\u` escape (False spares the search)."""
    if escapes and 92 in data and _RISKY_BYTES.search(data):  # 92: a backslash, by memchr
        return None
    try:  # the shape skips nothing, and msgspec checks the UTF-8 of every text it decodes
        rec = _clean_shape(contract).decode(data)
    except (msgspec.DecodeError, UnicodeError):
        return None
    if rec.deleted or not rec.record_id.strip():
        return None
    updated_at = _iso_timestamp(rec.updated_at)  # decoded strictly: storable
    if updated_at is None:
        return None
    month_event = (contract.event_date,) if contract.event_is_month else ()
    for field in (*month_event, *contract.datetime_fields):
        value = getattr(rec, field)
        if value is not None and not _usable_text(contract, field, value):
            return None
    return ValidRecord(
        rec.record_id, rec.version, updated_at, False, None, (), data, utc_text(rec.updated_at)
    )


#: `_RISKY_ESCAPE` over bytes
_RISKY_BYTES = re.compile(_RISKY_ESCAPE.pattern.encode())


def _usable_text(contract: EntityContract, field: str, value: str) -> bool:
    """Whether a field the clean shape decodes as text parses: the month event date, a
    datetime field."""
    if field == contract.event_date and contract.event_is_month:
        return parse_date(f"{value}-01") is not None
    return parse_timestamp(value) is not None


def validate(
    contract: EntityContract, obj: Any, text: str | None = None
) -> ValidRecord | RejectedRecord:
    """Check one received row against the entity's contract.

    `text` is the JSON text `obj` was parsed from, if any: a valid record whose payload needs
    no change keeps it for the COPY, so only rejects and repaired rows are serialised. A
    `DecodedText` (from `decode_record`) also spares the value-by-value storability checks.
    """
    if isinstance(obj, str | bytes):
        try:
            obj, text = decode_record(obj)
        except (ValueError, RecursionError):
            raw = obj.decode("utf-8", "replace") if isinstance(obj, bytes) else obj
            return RejectedRecord("unparseable", safe_text(raw))
    received = copyable_text(text)
    strict = isinstance(received, DecodedText)
    violation = _shape_violation(obj, strict)
    if violation is not None:
        return RejectedRecord(violation, _text(obj))
    record_id = str(obj["record_id"])
    deleted = obj.get("deleted") is True
    updated_at = parse_timestamp(obj.get("updated_at"))
    violation = _envelope_violation(contract, obj, deleted, updated_at)
    if violation is not None or updated_at is None:
        return RejectedRecord(violation or "invalid_updated_at", _text(obj), record_id)
    if strict:  # decoded strictly, no escape to a NUL or a lone surrogate: all storable
        payload, issues = obj, _type_issues(contract, obj)
    else:
        payload, issues = _field_issues(contract, obj)
    kept = received if payload is obj else None
    return ValidRecord(record_id, obj["version"], updated_at, deleted, payload, issues, kept)


def validate_received(
    contract: EntityContract, record: Any, escapes: bool = True
) -> ValidRecord | RejectedRecord:
    """Check one record of a change-feed page: the bytes of its JSON value as received (a clean
    record takes `validate_clean`; any other is decoded as the platform sent it, so a JSON
    string stands for a row the platform could not parse), or a value already parsed.
    `escapes` as for `validate_clean`."""
    if not isinstance(record, bytes):
        return validate(contract, record)
    clean = validate_clean(contract, record, escapes)
    if clean is not None:
        return clean
    return _validate_bytes(contract, record)


def _validate_bytes(contract: EntityContract, record: bytes) -> ValidRecord | RejectedRecord:
    """`validate` of a record received as bytes, decoded as the platform sent it."""
    try:
        obj, text = decode_record(record)
    except (ValueError, RecursionError):
        return RejectedRecord("unparseable", safe_text(record.decode("utf-8", "replace")))
    return validate(contract, obj, text)


def validate_page(
    contract: EntityContract, records: list[Any], escapes: bool = True
) -> list[ValidRecord | RejectedRecord]:
    """`validate_received` of each record of a page split without its UTF-8 checked
    (`PlatformClient.pages`' `prepare`). ValueError: a record is no UTF-8 (surrogates encoded
    in it pass, as `json` lets them): the page is corrupted, to be fetched again. Only the
    records the clean path did not take are decoded for it: msgspec checked the UTF-8 of
    every text of the others, and JSON outside its texts is ASCII."""
    results: list[ValidRecord | RejectedRecord] = []
    for record in records:
        if type(record) is bytes:
            clean = validate_clean(contract, record, escapes)
            if clean is None:
                record.decode("utf-8", "surrogatepass")  # UnicodeDecodeError: a ValueError
                clean = _validate_bytes(contract, record)
            results.append(clean)
        else:
            results.append(validate(contract, record))
    return results
