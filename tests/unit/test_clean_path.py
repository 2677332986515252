"""The fast path of validation: a clean record received as bytes is decoded once, by a shape
that accepts only what `validate` would keep as received with no field issue; anything else
is left to `validate`, so both paths always give the same result."""

import json
from dataclasses import astuple
from datetime import UTC, datetime
from functools import partial

import httpx
import pytest
from tests.unit.test_validation import GOOD

from phwarehouse.ingestion.client import PlatformClient, split_page
from phwarehouse.ingestion.contracts import contract_for
from phwarehouse.ingestion.raw_store import RejectedRecord, ValidRecord
from phwarehouse.ingestion.validation import (
    decode_record,
    validate,
    validate_clean,
    validate_page,
    validate_received,
)

HTN = contract_for("htn_followups")
REPORTS = contract_for("report_submissions")


def full_check(contract, data: bytes):
    """What the client did before the fast path: decode the record, then validate it."""
    try:
        obj, text = decode_record(data)
    except ValueError:
        return validate(contract, data)
    return validate(contract, obj, text)


def kept_text(record: ValidRecord) -> str | None:
    """The received text a record keeps for the COPY (the fast path keeps its bytes)."""
    kept = record.payload_text
    return kept.decode() if isinstance(kept, bytes) else kept


def same(a, b) -> bool:
    """Both paths give the same record, and the timestamp a COPY would get is the same."""
    if isinstance(a, ValidRecord) and a.updated_at_text is not None:
        assert a.updated_at_text == a.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(a, ValidRecord) and isinstance(b, ValidRecord):
        return (astuple(a)[:4], a.field_issues, kept_text(a), a.content()) == (
            astuple(b)[:4],
            b.field_issues,
            kept_text(b),
            b.content(),
        )
    return a == b


def test_a_clean_record_takes_the_fast_path() -> None:
    data = json.dumps({**GOOD, "weight_kg": 62.5, "doctor_name": "王五"}, ensure_ascii=False)
    record = validate_clean(HTN, data.encode())
    assert isinstance(record, ValidRecord)
    assert (record.record_id, record.version, record.deleted) == ("HF000001", 1, False)
    assert record.updated_at == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert record.updated_at_text == "2026-03-02T08:00:00Z"  # the COPY takes it as received
    assert record.payload_text == data.encode() and record.field_issues == ()  # as received
    assert record.content()["doctor_name"] == "王五"
    assert same(record, full_check(HTN, data.encode()))


@pytest.mark.parametrize(
    ("spelling", "parsed"),
    [
        ("2026-03-02T16:00:00+08:00", datetime(2026, 3, 2, 8, tzinfo=UTC)),
        # Python reads these; PostgreSQL would read 08:30.25 as 00:08:30.25, or refuse
        ("2026-03-02T08:30.25Z", datetime(2026, 3, 2, 8, 30, 0, 250000, tzinfo=UTC)),
        ("2026-W10-1T08:00:00Z", datetime(2026, 3, 2, 8, tzinfo=UTC)),
        ("2026-03-02T08000000Z", datetime(2026, 3, 2, 8, tzinfo=UTC)),
    ],
)
def test_only_the_plain_utc_spelling_goes_to_the_copy_as_received(spelling, parsed) -> None:
    record = validate_clean(HTN, json.dumps({**GOOD, "updated_at": spelling}).encode())
    assert record is not None and record.updated_at == parsed
    assert record.updated_at_text is None  # the COPY gets updated_at.isoformat()


@pytest.mark.parametrize(
    "change",
    [
        {"deleted": True},  # a tombstone
        {"record_id": "  "},
        {"record_id": 17},
        {"version": 0},
        {"version": True},
        {"version": 1.0},
        {"version": 2**40},
        {"updated_at": "yesterday"},
        {"updated_at": None},
        {"deleted": "maybe"},
        {"deleted": 0},
        {"person_record_id": ""},
        {"person_record_id": None},
        {"followup_date": "2026-03-01T10:00:00"},  # valid for validate, not clean
        {"followup_date": "2026-02-30"},
        {"sbp": "135"},
        {"sbp": 135.0},
        {"sbp": 10**9},
        {"dbp": "一百二"},
        {"weight_kg": "62.5"},
        {"weight_kg": 10**400},
        {"next_followup_date": "soon"},
        {"doctor_name": 7},
        {"unknown_field": 1},
        {"unknown_field": float("inf")},  # json.dumps writes Infinity
    ],
)
def test_anything_else_is_left_to_validate_with_the_same_result(change) -> None:
    data = json.dumps({**GOOD, **change}).encode()
    assert validate_clean(HTN, data) is None
    assert same(validate_received(HTN, data), full_check(HTN, data))


@pytest.mark.parametrize(
    "data",
    [
        b'{"record_id": "HF1", "version": 1, "updated_at": "2026-03-02T08:00:00Z",'
        b' "person_record_id": "R\\u0000", "followup_date": "2026-03-01"}',
        b'{"record_id": "HF1", "version": 1, "updated_at": "2026-03-02T08:00:00Z",'
        b' "person_record_id": "R1", "followup_date": "2026-03-01", "x": "\\ud83d\\ude00"}',
        # out of range and invalid UTF-8 where the shape does not look (an unknown field)
        b'{"record_id": "HF1", "version": 1, "updated_at": "2026-03-02T08:00:00Z",'
        b' "person_record_id": "R1", "followup_date": "2026-03-01", "x": 1e400}',
        b'{"record_id": "HF1", "version": 1, "updated_at": "2026-03-02T08:00:00Z",'
        b' "person_record_id": "R1", "followup_date": "2026-03-01", "doctor_name": "\xed\xa0\x80"}',
        b'"a row the platform could not parse"',
        b"[1, 2]",
    ],
)
def test_escapes_and_bytes_the_shape_cannot_vouch_for(data: bytes) -> None:
    assert validate_clean(HTN, data) is None
    result = validate_received(HTN, data)
    assert same(result, full_check(HTN, data))
    if data.startswith(b'"'):
        assert isinstance(result, RejectedRecord) and result.reason == "unparseable"


def test_a_page_holding_an_escape_has_its_records_searched() -> None:
    risky = json.dumps({**GOOD, "doctor_name": "a\x00b"}).encode()  # spelled \u0000
    page = split_page(b'{"data": [' + json.dumps(GOOD).encode() + b", " + risky + b"]}")
    assert page["escapes"] is True
    clean, held = (validate_received(HTN, r, page["escapes"]) for r in page["data"])
    assert clean.payload_text is not None and held.payload_text is None  # serialised, nulled
    assert held.content()["doctor_name"] is None
    # a page without any escape spares the search; its records still take the strict shape
    page = split_page(b'{"data": [' + json.dumps(GOOD).encode() + b"]}")
    assert page["escapes"] is False
    assert validate_clean(HTN, page["data"][0], page["escapes"]) is not None


def test_month_events_and_datetime_fields_must_parse() -> None:
    report = {
        "record_id": "RS1",
        "version": 1,
        "updated_at": "2026-03-02T08:00:00Z",
        "deleted": False,
        "facility_code": "F01",
        "report_month": "2026-02",
        "submitted_at": "2026-02-24T10:00:00Z",
    }
    assert validate_clean(REPORTS, json.dumps(report).encode()) is not None
    for change in ({"report_month": "March"}, {"submitted_at": "late"}):
        data = json.dumps({**report, **change}).encode()
        assert validate_clean(REPORTS, data) is None
        assert same(validate_received(REPORTS, data), full_check(REPORTS, data))


def test_a_page_validated_within_its_retries_checks_utf8_where_msgspec_did_not() -> None:
    """validate_page (the client's `prepare`): the records the clean path takes were checked
    by msgspec; the others are decoded, and one that is no UTF-8 makes the page corrupted."""
    good = json.dumps({**GOOD, "doctor_name": "王五"}, ensure_ascii=False).encode()
    surrogate = json.dumps({**GOOD, "doctor_name": "X"}).encode().replace(b"X", b"\xed\xa0\x80")
    tombstone = json.dumps({**GOOD, "deleted": True}).encode()
    records = [good, surrogate, tombstone, {**GOOD, "record_id": "parsed"}]
    results = validate_page(HTN, records, escapes=False)
    assert results == [validate_received(HTN, r, escapes=False) for r in records]
    assert results[0].payload_text == good  # as received
    for corrupted in (b'{"a": "\xff"}', good.replace("王".encode(), b"\xe7\x8e")):
        with pytest.raises(ValueError):
            validate_page(HTN, [good, corrupted])


def test_a_corrupted_page_is_fetched_again() -> None:
    good = json.dumps(GOOD).encode()
    bodies = [
        b'{"data": [' + good + b', {"a": "\xff"}]}',  # a record that is no UTF-8
        b'{"data": [' + good + b"]}",
    ]

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bodies.pop(0))

    with PlatformClient("http://platform", "token", backoff_base=0) as client:
        client._http = httpx.Client(
            base_url="http://platform", transport=httpx.MockTransport(serve)
        )
        pages = list(client.pages("htn_followups", None, partial(validate_page, HTN)))
    assert [[r.record_id for r in page.records] for page in pages] == [["HF000001"]]
    assert (client.stats.requests, client.stats.retries, client.stats.faults) == (
        2,
        1,
        {"truncated": 1},
    )


def test_an_error_of_prepare_that_is_no_corrupted_record_is_not_retried() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"data": [' + json.dumps(GOOD).encode() + b"]}")

    def broken(records: list, escapes: bool) -> list:
        raise ValueError("a bug in validation")

    with PlatformClient("http://platform", "token", backoff_base=0) as client:
        transport = httpx.MockTransport(serve)
        client._http = httpx.Client(base_url="http://platform", transport=transport)
        with pytest.raises(RuntimeError, match="a bug in validation"):
            list(client.pages("htn_followups", None, broken))
    assert (client.stats.requests, client.stats.retries) == (1, 0)
