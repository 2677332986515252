"""Every quarantine reason of the source contract, and what is deliberately not a violation."""

import json

import pytest

from phwarehouse.ingestion.contracts import contract_for
from phwarehouse.ingestion.raw_store import RejectedRecord, ValidRecord
from phwarehouse.ingestion.validation import validate

HTN = contract_for("htn_followups")
GOOD = {
    "record_id": "HF000001",
    "version": 1,
    "updated_at": "2026-03-02T08:00:00Z",
    "deleted": False,
    "person_record_id": "R0001",
    "facility_code": "F01",
    "followup_date": "2026-03-01",
    "followup_mode": "face_to_face",
    "sbp": 135,
    "dbp": 85,
}


def reason(obj) -> str:
    result = validate(HTN, obj)
    assert isinstance(result, RejectedRecord), result
    return result.reason


def test_good_record_is_valid_and_keeps_its_payload() -> None:
    result = validate(HTN, GOOD)
    assert isinstance(result, ValidRecord)
    assert (result.record_id, result.version, result.deleted) == ("HF000001", 1, False)
    assert result.payload["sbp"] == 135


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ('{"record_id": "HF1", "version": 1', "unparseable"),
        ([1, 2, 3], "not_an_object"),
        ({**GOOD, "record_id": None}, "missing_record_id"),
        ({**GOOD, "record_id": ""}, "missing_record_id"),
        ({**GOOD, "version": "2"}, "invalid_version"),
        ({**GOOD, "version": 0}, "invalid_version"),
        ({**GOOD, "updated_at": "yesterday"}, "invalid_updated_at"),
        ({**GOOD, "person_record_id": None}, "missing_person_ref:person_record_id"),
        ({**GOOD, "followup_date": None}, "missing_event_date:followup_date"),
        ({**GOOD, "followup_date": "2026-13-40"}, "invalid_event_date:followup_date"),
        # poison records a tester sent: each stalled the entity before (the chunk failed)
        ({**GOOD, "record_id": "HF\u0000001"}, "invalid_record_id"),
        ({**GOOD, "record_id": "HF\ud800"}, "invalid_record_id"),
        ({**GOOD, "record_id": ["HF1"]}, "invalid_record_id"),
        ({**GOOD, "version": 2**40}, "invalid_version"),
        ({**GOOD, "version": True}, "invalid_version"),
        ({**GOOD, "deleted": "maybe"}, "invalid_deleted_flag"),
        ({**GOOD, "deleted": "true"}, "invalid_deleted_flag"),
        ({**GOOD, "updated_at": "2026-03-02T08:00:00\u0000Z"}, "invalid_updated_at"),
        ({**GOOD, "person_record_id": {"id": "R1"}}, "invalid_person_ref:person_record_id"),
        ({**GOOD, "person_record_id": "R\u00001"}, "invalid_person_ref:person_record_id"),
        ({**GOOD, "followup_date": "2026-03-01\u0000"}, "invalid_event_date:followup_date"),
        ({**GOOD, "followup_date": 20260301}, "invalid_event_date:followup_date"),
        ({**GOOD, "\u0000": 1}, "unstorable_field_name"),
        ('{"record_id": "HF1", "sbp": \u0000}', "unparseable"),
    ],
)
def test_contract_violations_are_rejected_with_their_reason(obj, expected: str) -> None:
    assert reason(obj) == expected


def test_a_quarantined_payload_can_be_stored_as_text() -> None:
    """NUL and lone surrogates are escaped: PostgreSQL text holds neither."""
    for obj in ({**GOOD, "record_id": "HF\u0000001"}, {**GOOD, "record_id": "HF\ud800"}):
        text = validate(HTN, obj).payload_text
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogate left
        assert "HF" in text


@pytest.mark.parametrize(
    ("field", "value", "expected_reason"),
    [
        ("dbp", "一百二", "wrong_type"),
        ("sbp", "1 2 0", "wrong_type"),
        ("sbp", {"value": 120}, "wrong_type"),
        ("sbp", True, "wrong_type"),
        ("sbp", 10**12, "out_of_range"),
        ("sbp", 120.5, "wrong_type"),
        ("sbp", "120.5", "wrong_type"),
        ("weight_kg", float("inf"), "unstorable_value"),
        ("weight_kg", float("nan"), "unstorable_value"),
        ("next_followup_date", "soon", "wrong_type"),
        ("next_followup_date", 20260401, "wrong_type"),
        ("doctor_name", "王\u0000医生", "unstorable_value"),
        ("doctor_name", "\udc80", "unstorable_value"),
    ],
)
def test_a_wrong_type_field_is_a_field_issue_and_the_record_is_kept(
    field: str, value, expected_reason: str
) -> None:
    """Spec §6: a wrong-type value outside the contract keys is treated as missing and listed;
    the record (the visit) is kept."""
    result = validate(HTN, {**GOOD, field: value})
    assert isinstance(result, ValidRecord), result
    assert [(i.field, i.reason) for i in result.field_issues] == [(field, expected_reason)]
    if expected_reason == "unstorable_value":
        assert result.payload[field] is None  # what jsonb cannot hold is not stored
        assert result.field_issues[0].value is None
    else:
        assert result.payload[field] == value  # raw keeps the value as sent
    json.dumps(result.payload, allow_nan=False)  # storable as jsonb


def test_numeric_text_and_boolean_spellings_are_no_issue() -> None:
    result = validate(HTN, {**GOOD, "sbp": "135", "weight_kg": "62.5", "heart_rate": 72.0})
    assert isinstance(result, ValidRecord) and result.field_issues == ()
    result = validate(HTN, {**GOOD, "dbp": "85.0", "weight_kg": 62.25})  # integral; a number
    assert isinstance(result, ValidRecord) and result.field_issues == ()
    exams = contract_for("health_exams")
    assert "health_guidance_given" in exams.boolean_fields
    for spelling in (True, "是", " FALSE ", "0"):
        assert _issues(exams, "health_guidance_given", spelling) == []
    assert _issues(exams, "health_guidance_given", "maybe") == [
        ("health_guidance_given", "wrong_type")
    ]


def _issues(contract, field: str, value) -> list[tuple[str, str]]:
    row = {
        "record_id": "HE1",
        "version": 1,
        "updated_at": "2026-03-02T08:00:00Z",
        "person_record_id": "R1",
        "facility_code": "F01",
        "exam_date": "2026-03-01",
        field: value,
    }
    result = validate(contract, row)
    assert isinstance(result, ValidRecord), result
    return [(i.field, i.reason) for i in result.field_issues]


def test_implausible_values_are_not_contract_violations() -> None:
    assert isinstance(validate(HTN, {**GOOD, "sbp": 1400, "dbp": 150}), ValidRecord)


def test_tombstone_needs_only_the_envelope() -> None:
    tomb = {"record_id": "HF1", "version": 3, "updated_at": "2026-04-01T00:00:00Z", "deleted": True}
    result = validate(HTN, tomb)
    assert isinstance(result, ValidRecord) and result.deleted


def test_month_event_dates_are_accepted_for_report_submissions() -> None:
    contract = contract_for("report_submissions")
    row = {
        "record_id": "RS1",
        "version": 1,
        "updated_at": "2026-03-20T00:00:00Z",
        "deleted": False,
        "facility_code": "F01",
        "report_month": "2026-03",
        "submitted_at": "2026-03-20T09:00:00Z",
    }
    assert isinstance(validate(contract, row), ValidRecord)
    assert isinstance(validate(contract, {**row, "report_month": "March"}), RejectedRecord)


def test_json_text_rows_are_parsed_before_validation() -> None:
    import json

    assert isinstance(validate(HTN, json.dumps(GOOD)), ValidRecord)
