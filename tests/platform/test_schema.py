from __future__ import annotations

from pathlib import Path

from platform_helpers import records

from phwarehouse.platform.ids import check_digit_of, is_valid_id
from phwarehouse.platform.schema import CONTRACT_KEYS, ENTITIES, ENTITY_NAMES, contract_key_fields

EXPECTED = {
    "org_units",
    "residents",
    "family_doctor_contracts",
    "htn_registry",
    "t2d_registry",
    "smd_registry",
    "htn_followups",
    "t2d_followups",
    "smd_followups",
    "health_exams",
    "pregnancies",
    "prenatal_exams",
    "deliveries",
    "postpartum_visits",
    "postpartum_42d_checks",
    "newborn_visits",
    "child_health_checks",
    "child_tcm_guidance",
    "vaccinations",
    "deaths",
    "report_submissions",
}


def test_entity_names_and_envelope():
    assert set(ENTITY_NAMES) == EXPECTED
    for name, entity in ENTITIES.items():
        assert entity.field_names()[:4] == ["record_id", "version", "updated_at", "deleted"]
        assert len(set(entity.field_names())) == len(entity.fields), name
        for key in contract_key_fields(name):
            assert key in entity.field_names(), (name, key)
            assert entity.field(key).required


def test_every_record_has_contract_keys_when_clean(clean_dir):
    for name in ENTITY_NAMES:
        recs = records(clean_dir, name)
        assert recs, name
        for rec in recs:
            assert list(rec) == ENTITIES[name].field_names(), name
            for key in contract_key_fields(name):
                assert rec[key] is not None, (name, key)
    assert CONTRACT_KEYS["htn_followups"].event_date == "followup_date"


def test_schema_document_lists_every_field():
    doc = (Path(__file__).parents[2] / "docs" / "platform_schema.md").read_text(encoding="utf-8")
    for name, entity in ENTITIES.items():
        assert f"`{name}`" in doc, name
        for f in entity.fields:
            assert f"`{f.name}`" in doc, (name, f.name)
    assert "DE02.01.039.00" in doc and "DE04.10.174.00" in doc


def test_check_digit():
    assert is_valid_id("11010519491231002X")
    assert is_valid_id("11010519491231002x")
    assert not is_valid_id("110105194912310021")
    import numpy as np

    assert check_digit_of(np.array([11010519491231002]))[0] == "X"
