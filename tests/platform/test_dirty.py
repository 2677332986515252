from __future__ import annotations

import json
from collections import Counter

import pytest
from platform_helpers import make, raw_lines, records

from phwarehouse.platform.dirty import STATEFUL, DirtyConfig
from phwarehouse.platform.ids import is_valid_id
from phwarehouse.platform.schema import ENTITY_NAMES


def _manifest(d):
    return json.loads((d / "manifest.json").read_text(encoding="utf-8"))


def _kind(m, kind):
    return m["dirty_counts"].get(kind, {"total": 0})["total"]


def test_clean_run_has_no_dirt(clean_dir):
    m = _manifest(clean_dir)
    assert all(v["total"] == 0 for v in m["dirty_counts"].values())
    for entity in ENTITY_NAMES:
        for line in raw_lines(clean_dir, entity):
            rec = json.loads(line)  # every line parses
            assert rec["record_id"] is not None
            assert rec["deleted"] is False
            if entity not in STATEFUL and entity != "org_units":
                assert rec["version"] == 1


def test_manifest_counts_match_the_files(dirty_dir):
    m = _manifest(dirty_dir)
    malformed = tombstones = missing_id = 0
    versions = 0
    for entity in ENTITY_NAMES:
        for line in raw_lines(dirty_dir, entity):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                malformed += 1
                continue
            tombstones += rec["deleted"]
            missing_id += rec["record_id"] is None
            if entity not in STATEFUL and entity != "org_units" and rec["version"] > 1:
                versions += 1
    assert malformed == _kind(m, "malformed_json") > 0
    assert tombstones == _kind(m, "deletion") > 0
    assert missing_id == _kind(m, "missing_record_id") > 0
    assert versions == _kind(m, "correction") + _kind(m, "deletion")
    res = records(dirty_dir, "residents")
    firsts = [r for r in res if r["version"] == 1 and r.get("id_number")]
    per_id = Counter(r["id_number"].upper() for r in firsts)
    assert sum(n - 1 for n in per_id.values() if n > 1) == _kind(m, "duplicate_ehr") > 0
    invalid = {r["id_number"].upper() for r in firsts if not is_valid_id(r["id_number"])}
    assert len(invalid) == _kind(m, "invalid_id_check") > 0


HIGH = 0.03


@pytest.fixture(scope="module")
def high_dir(tmp_path_factory):
    cfg = DirtyConfig().with_overrides(
        {
            "late_arrival": HIGH,
            "implausible_vitals": HIGH,
            "missing_required": HIGH,
            "unknown_facility": HIGH,
            "malformed_json": HIGH,
            "correction": HIGH,
            "deletion": HIGH,
            "duplicate_ehr": HIGH,
            "invalid_id_check": HIGH,
        }
    )
    return make(tmp_path_factory.mktemp("high"), seed=3, residents=3000, dirty=cfg)


def test_dirty_rates_follow_configuration(high_dir):
    m = _manifest(high_dir)
    follow = sum(1 for r in records(high_dir, "htn_followups") if r["version"] == 1)
    follow += _kind_entity(m, "malformed_json", "htn_followups")
    for kind in ("malformed_json", "unknown_facility", "missing_required"):
        rate = _kind_entity(m, kind, "htn_followups") / follow
        assert 0.5 * HIGH < rate < 1.6 * HIGH, (kind, rate)
    vacc = len(raw_lines(high_dir, "vaccinations"))
    assert 0.5 * HIGH < _kind_entity(m, "late_arrival", "vaccinations") / vacc < 1.6 * HIGH
    persons = sum(1 for r in records(high_dir, "residents") if r["version"] == 1)
    assert 0.5 * HIGH < _kind(m, "duplicate_ehr") / persons < 1.6 * HIGH
    assert 0.5 * HIGH < _kind(m, "invalid_id_check") / persons < 1.6 * HIGH


def _kind_entity(m, kind, entity):
    return m["dirty_counts"].get(kind, {"by_entity": {}})["by_entity"].get(entity, 0)


def test_implausible_vitals_and_after_death(dirty_dir):
    m = _manifest(dirty_dir)
    bad = sum(
        1
        for r in records(dirty_dir, "htn_followups")
        if isinstance(r.get("sbp"), int)
        and isinstance(r.get("dbp"), int)
        and (r["sbp"] > 300 or r["sbp"] <= r["dbp"])
    )
    assert bad >= _kind_entity(m, "implausible_vitals", "htn_followups") > 0
    deaths = {d["person_record_id"]: d["death_date"] for d in records(dirty_dir, "deaths")}
    after = sum(
        1
        for r in records(dirty_dir, "htn_followups")
        if r.get("person_record_id") in deaths
        and (r.get("followup_date") or "") > deaths[r["person_record_id"]]
    )
    assert after >= _kind(m, "service_after_death") > 0


def test_all_records_within_cutoff(dirty_dir):
    for entity in ENTITY_NAMES:
        for rec in records(dirty_dir, entity):
            assert rec["updated_at"] <= "2026-11-22T23:59:59Z"
