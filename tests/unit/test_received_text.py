"""The received text of a record goes to the COPY only when jsonb can hold it as it is, and a
page body is split into its records' bytes without parsing them."""

import json

import pytest
from tests.unit.test_validation import GOOD as VALID

from phwarehouse.ingestion.client import split_page
from phwarehouse.ingestion.contracts import contract_for
from phwarehouse.ingestion.raw_store import ValidRecord, copy_escape
from phwarehouse.ingestion.validation import DecodedText, decode_record, validate

HTN = contract_for("htn_followups")
GOOD = {**VALID, "weight_kg": 62.5}


@pytest.fixture(params=["strict", "json"])
def decode(request):
    """Both ways a record reaches validate(): decoded strictly by the client (msgspec, or json
    for what it refuses), or parsed by json with its text (the untrusted path)."""
    if request.param == "strict":
        return lambda text: decode_record(text.encode())
    return lambda text: (json.loads(text), text)


def _valid(text: str, decode=lambda text: (json.loads(text), text)) -> ValidRecord:
    result = validate(HTN, *decode(text))
    assert isinstance(result, ValidRecord), result
    return result


def test_a_clean_record_keeps_its_received_text(decode) -> None:
    text = json.dumps(GOOD, ensure_ascii=False).replace("62.5", "62.50")
    record = _valid(text, decode)
    assert record.payload_text == text and record.payload_json() == text
    assert _valid(text.replace('"R0001"', '"王\\u4e94"'), decode).payload_text is not None


def test_a_strictly_decoded_text_is_marked() -> None:
    obj, text = decode_record(b'{"a": [1.5, "x"]}')
    assert obj == {"a": [1.5, "x"]} and isinstance(text, DecodedText)
    for refused in (b'{"a": 1e400}', b'{"a": NaN}', b'{"a": "\\ud800"}', b'{"a": "\xed\xa0\x80"}'):
        obj, text = decode_record(refused)
        assert text is None and obj == json.loads(refused)


@pytest.mark.parametrize(
    ("field", "spelling"),
    [
        ("doctor_name", '"a\\u0000b"'),  # jsonb rejects \u0000
        ("doctor_name", '"\\ud800"'),  # a lone surrogate
        ("weight_kg", "1e400"),  # infinite for Python, nulled
        ("weight_kg", "NaN"),
    ],
)
def test_an_unstorable_value_is_nulled_and_the_payload_serialised(field, spelling, decode) -> None:
    text = json.dumps(GOOD)[:-1] + f', "{field}": {spelling}}}'
    record = _valid(text, decode)
    assert record.payload_text is None
    assert record.payload[field] is None
    assert json.loads(record.payload_json())[field] is None
    assert "\\u0000" not in record.payload_json()


def test_a_risky_escape_anywhere_falls_back_to_serialising(decode) -> None:
    # a valid surrogate pair is storable, but the text is not trusted: re-serialised
    text = json.dumps({**GOOD, "doctor_name": "\U0001f600"}, ensure_ascii=True)
    record = _valid(text, decode)
    assert record.payload_text is None and record.payload["doctor_name"] == "\U0001f600"


def test_a_tombstone_with_an_unstorable_key_is_kept_with_that_field_nulled(decode) -> None:
    text = (
        '{"record_id": "HF1", "version": 2, "updated_at": "2026-04-01T00:00:00Z",'
        ' "deleted": true, "person_record_id": "R\\u0000"}'
    )
    record = _valid(text, decode)
    assert record.deleted and record.payload["person_record_id"] is None
    assert [(i.field, i.reason) for i in record.field_issues] == [
        ("person_record_id", "unstorable_value")
    ]


def test_rejects_are_serialised_from_the_parsed_row() -> None:
    result = validate(HTN, {**GOOD, "version": 0}, json.dumps({**GOOD, "version": 0}))
    assert not isinstance(result, ValidRecord)
    assert json.loads(result.payload_text)["version"] == 0


def test_a_page_is_split_into_the_bytes_of_its_records() -> None:
    records = ['{"a": 1}', '"a malformed line"', '{"b": [1, {"c": "]},"}]}', '{"d":"\\u0000"}']
    body = '{"entity": "x", "data": [' + ",\n ".join(records) + '], "next_cursor": "c2"}'
    page = split_page(body.encode())
    assert page["data"] == [r.encode() for r in records] and page["next_cursor"] == "c2"
    assert page["escapes"] is True
    assert split_page(b'{"data": [{"a": "\xe7\x8e\x8b"}]}')["escapes"] is False


def test_records_msgspec_refuses_are_left_to_validation() -> None:
    # split_page delimits them; validate_received parses them as json did
    records = [b'{"w": 1e400}', b'{"d": "\xed\xa0\x80"}', b'{"n": 123456789012345678901234567890}']
    page = split_page(b'{"data": [' + b",".join(records) + b"]}")
    assert page["data"] == records
    # what msgspec cannot even delimit (NaN, a lone surrogate escape): json parses the page
    for record in (b'{"w": NaN}', b'{"d": "\\ud800"}'):
        page = split_page(b'{"data": [' + record + b', {"a": 1}]}')
        assert page["data"] == [json.loads(record), {"a": 1}]


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"a": 1},',
        b'{"data": [{"a": 1}]',
        b'{"data": [1,]}',
        b'{"data": []}x',
        b'{"data": [{"a": "\xff"}]}',
    ],
)
def test_a_truncated_page_is_an_error_to_retry(body: bytes) -> None:
    with pytest.raises(ValueError):
        split_page(body)


def test_bytes_outside_the_records_are_not_checked_for_utf8() -> None:
    # as before: only the records' text matters (a corrupted record is retried above)
    page = split_page(b'{"data": [{"a": 1}], "meta": "\xff", "next_cursor": "c2"}')
    assert page["data"] == [b'{"a": 1}'] and page["next_cursor"] == "c2"


def test_a_body_that_is_no_page_is_parsed_whole() -> None:
    assert split_page(b'\xef\xbb\xbf{"data": [{"a": 1}]}') == {"data": [{"a": 1}]}
    assert split_page(b'{"data": {"a": 1}}') == {"data": {"a": 1}}


def test_number_spellings_inside_strings_are_text(decode) -> None:
    record = _valid(json.dumps({**GOOD, "doctor_name": "E119 NaN Infinity 1e400"}), decode)
    assert record.payload_text is not None and record.field_issues == ()


def test_copy_escape_spells_copy_text_format() -> None:
    assert copy_escape(b'{"a": "x\\\\y"}\t\n\r') == b'{"a": "x\\\\\\\\y"}\\t\\n\\r'
    assert copy_escape("王\\五".encode()) == "王\\\\五".encode()  # UTF-8 bytes pass as they are
    assert copy_escape(b"plain") == b"plain"
