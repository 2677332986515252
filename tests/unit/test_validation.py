"""Every quarantine reason of the source contract, and what is deliberately not a violation."""

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
        ({**GOOD, "sbp": "abc"}, "wrong_type:sbp"),
        ({**GOOD, "next_followup_date": "soon"}, "wrong_type:next_followup_date"),
    ],
)
def test_contract_violations_are_rejected_with_their_reason(obj, expected: str) -> None:
    assert reason(obj) == expected


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
