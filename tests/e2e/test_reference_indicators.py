"""Unit tests of the pandas reference (reference_indicators.py) on tiny hand-built feeds.

Every test writes a few persons to ``tmp_path`` in the simulator's folder layout and checks the
numerators and denominators worked out by hand in the comments. Year 2025, cut-off 2026-11-22
unless said otherwise; window = 2025-01-01 … 2025-12-31.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

from reference_indicators import (
    compute_district_year,
    compute_ncd_premature_bands,
    compute_vaccination_breakdown,
    ncd_premature_value,
    validate_line,
)

CUTOFF = date(2026, 11, 22)
TWN1, FAC1 = "410108001", "41010800100"
TWN2, FAC2 = "410108002", "41010800200"
UNKNOWN_FAC = "41010899900"

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"


def make_id(birth: str, seq: int, sex: str = "1", valid: bool = True) -> str:
    """A GB 11643 ID number for a birth date (YYYY-MM-DD); odd 17th digit = male."""
    digit = (seq * 2 + (1 if sex == "1" else 0)) % 10
    body = f"410108{birth.replace('-', '')}{seq % 100:02d}{digit}"
    check = _CHECK[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]
    if not valid:
        check = _CHECK[(_CHECK.index(check) + 1) % 11]
    return body + check


class Feed:
    """Collects feed lines and population rows, then writes a simulator-style folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lines: dict[str, list[str]] = defaultdict(list)
        self.pop: list[tuple[int, str, str, int, int]] = []
        self._seq = 0

    def add(
        self,
        entity: str,
        record_id: str | None = None,
        *,
        version: int = 1,
        updated_at: str | None = None,
        deleted: bool = False,
        **fields: object,
    ) -> str:
        """Append one record; returns its record_id."""
        self._seq += 1
        rid = record_id or f"{entity[:3].upper()}{self._seq:06d}"
        if updated_at is None:
            dates = [v for v in fields.values() if isinstance(v, str) and len(v) == 10]
            updated_at = f"{(dates[0] if dates else '2020-01-01')}T08:00:00Z"
        record = {"record_id": rid, "version": version, "updated_at": updated_at}
        record["deleted"] = deleted
        record.update(fields)
        self.lines[entity].append(json.dumps(record, ensure_ascii=False))
        return rid

    def raw(self, entity: str, line: str) -> None:
        self.lines[entity].append(line)

    def ehr(
        self,
        rid: str,
        birth: str | None,
        *,
        sex: str = "1",
        id_number: str | None = None,
        created: str = "2010-01-01",
        facility: str = FAC1,
        township: str | None = TWN1,
        closed: str | None = None,
        reason: str | None = None,
        updated_at: str | None = None,
    ) -> str:
        """A health record (version 1, or version 2 when closed)."""
        self._seq += 1
        fields = {
            "id_number": id_number or make_id(birth or "1980-01-01", self._seq, sex),
            "name": rid,
            "sex_code": sex,
            "birth_date": birth,
            "residency_type": "户籍",
            "township_code": township,
            "managing_facility_code": facility,
            "ehr_created_on": created,
            "ehr_closed_on": None,
            "close_reason": None,
        }
        self.add("residents", rid, updated_at=updated_at or f"{created}T08:00:00Z", **fields)
        if closed:
            fields |= {"ehr_closed_on": closed, "close_reason": reason}
            self.add("residents", rid, version=2, updated_at=f"{closed}T09:00:00Z", **fields)
        return rid

    def service(self, entity: str, person: str, **fields: object) -> str:
        return self.add(entity, person_record_id=person, facility_code=FAC1, **fields)

    def death(self, person: str, when: str, icd10: str = "I21.9", **fields: object) -> str:
        fields.setdefault("pregnancy_related", False)
        return self.add(
            "deaths", person_record_id=person, death_date=when, underlying_cause_icd10=icd10,
            **fields,
        )  # fmt: skip

    def population(self, age: int, n: int, sex: str = "男", year: int = 2025) -> None:
        self.pop.append((year, TWN1, sex, age, n))

    def write(self) -> Path:
        jsonl = self.root / "jsonl"
        jsonl.mkdir(parents=True, exist_ok=True)
        self._org_units()
        for entity, lines in self.lines.items():
            (jsonl / f"{entity}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        pop_dir = self.root / "population"
        pop_dir.mkdir(exist_ok=True)
        years = {row[0] for row in self.pop} | {2025, 2026}
        for year in years:
            rows = ["年份,乡镇街道代码,乡镇街道名称,性别,年龄,常住人口"]
            rows += [f"{y},{t},长兴路街道,{s},{a},{n}" for y, t, s, a, n in self.pop if y == year]
            if len(rows) == 1:
                rows.append(f"{year},{TWN1},长兴路街道,男,40,1")
            path = pop_dir / f"population_{year}.csv"
            path.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
        return self.root

    def _org_units(self) -> None:
        units = [("410108", "district", None)]
        units += [(TWN1, "township", "410108"), (FAC1, "facility", TWN1)]
        units += [(TWN2, "township", "410108"), (FAC2, "facility", TWN2)]
        for code, level, parent in units:
            self.add(
                "org_units", code, updated_at="2016-01-01T00:00:00Z", org_unit_code=code,
                name=code, level=level, parent_code=parent, division_code=code[:9],
                opened_on="2000-01-01", closed_on=None,
            )  # fmt: skip


def compute(feed: Feed, year: int = 2025, cutoff: date = CUTOFF) -> dict:
    return compute_district_year(feed.write(), year, cutoff)


# --- ingestion -----------------------------------------------------------------------------------


def test_validate_line_contract_violations() -> None:
    good = {"record_id": "X1", "version": 1, "updated_at": "2025-01-01T00:00:00Z"}
    good |= {"deleted": False, "person_record_id": "E1", "followup_date": "2025-01-01"}
    assert validate_line("htn_followups", json.dumps(good)) is not None
    assert validate_line("htn_followups", json.dumps(good | {"sbp": "120"}))["sbp"] == 120.0
    assert validate_line("htn_followups", '{"record_id":"X1","vers') is None  # unparseable
    assert validate_line("htn_followups", '"just a string"') is None  # not an object
    assert validate_line("htn_followups", json.dumps(good | {"record_id": None})) is None
    assert validate_line("htn_followups", json.dumps(good | {"person_record_id": None})) is None
    assert validate_line("htn_followups", json.dumps(good | {"followup_date": None})) is None
    # spec §6 (updated): a wrong-type field is treated as missing, the record is kept
    assert validate_line("htn_followups", json.dumps(good | {"sbp": "abc"}))["sbp"] is None
    assert validate_line("htn_followups", json.dumps(good | {"dbp": "一百二"}))["dbp"] is None
    assert validate_line("htn_followups", json.dumps(good | {"dbp": 85.5}))["dbp"] is None
    assert validate_line("htn_followups", json.dumps(good | {"dbp": 85.0}))["dbp"] == 85
    assert (
        validate_line("htn_followups", json.dumps(good | {"followup_date": "2025-02-30"})) is None
    )
    tombstone = {"record_id": "X1", "version": 2, "updated_at": "2025-02-01T00:00:00Z"}
    assert validate_line("htn_followups", json.dumps(tombstone | {"deleted": True})) is not None


def test_dirty_followups_versions_tombstones_cutoff(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    p = f.ehr("E1", "1970-01-01")
    f.service("htn_registry", p, enrolled_on="2020-01-01")
    fu = {"followup_mode": "face_to_face"}
    f.service("htn_followups", p, followup_date="2025-02-01", sbp=120, dbp=80, **fu)  # counts
    # corrected: v1 160/100, v2 125/80 -> counts once, 125/80
    f.add("htn_followups", "F2", person_record_id=p, followup_date="2025-05-01", sbp=160, dbp=100,
          **fu)  # fmt: skip
    f.add("htn_followups", "F2", version=2, updated_at="2025-06-01T00:00:00Z", person_record_id=p,
          followup_date="2025-05-01", sbp=125, dbp=80, **fu)  # fmt: skip
    # deleted by a tombstone -> counts nowhere
    f.add("htn_followups", "F3", person_record_id=p, followup_date="2025-08-01", sbp=120, dbp=80,
          **fu)  # fmt: skip
    f.add("htn_followups", "F3", version=2, updated_at="2025-09-01T00:00:00Z", deleted=True)
    # wrong type: the visit is kept, its SBP treated as missing -> no blood pressure recorded
    f.service("htn_followups", p, followup_date="2025-08-02", sbp="abc", dbp=80, **fu)
    f.service("htn_followups", p, followup_date=None, sbp=120, dbp=80, **fu)  # no event date
    f.raw("htn_followups", '{"record_id":"F6","version":1,"updated_at":"2025-08-0')  # malformed
    f.service("htn_followups", p, followup_date="2025-11-01", sbp=130, dbp=80, **fu)  # counts
    f.service("htn_followups", p, followup_date="2052-11-01", sbp=130, dbp=80, **fu)  # future
    # entered after the cut-off: not in the extract as of 2026-11-22
    f.service("htn_followups", p, followup_date="2025-12-01", sbp=170, dbp=100,
              updated_at="2026-12-01T00:00:00Z", **fu)  # fmt: skip
    r = compute(f)
    # face-to-face follow-ups with blood pressure recorded: Feb, May (corrected), Nov = 3 < 4
    # required -> not standard (Aug-02's SBP was of the wrong type)
    assert r["HTN_STD_MGMT"] == (0, 1)
    # most recent valid reading: Nov 130/80 -> controlled (the 170/100 after the cut-off is unseen)
    assert r["HTN_BP_CONTROL"] == (1, 1)


# --- records and family doctors ------------------------------------------------------------------


def test_ehr_filing_usage_moved_out_deceased_duplicates(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.population(40, 6)
    f.population(70, 4)  # official population 10
    a_id = make_id("1950-05-05", 7)[:17] + "X"
    f.ehr("A", "1950-05-05", id_number=a_id, created="2012-01-01")
    a_copy = f.ehr("A2", "1950-05-05", id_number=a_id.lower(), created="2015-01-01")
    f.service("health_exams", a_copy, exam_date="2025-04-01")  # service on the copy: A used
    f.ehr("F", "1985-01-01")  # active, no service
    f.ehr("G", "1985-01-01", facility=UNKNOWN_FAC, township=TWN2)  # township fallback: active
    h = f.ehr("H", "1985-01-01", facility=UNKNOWN_FAC, township=None)  # no facility: excluded
    f.service("htn_followups", h, followup_date="2025-03-01", followup_mode="telephone")
    f.ehr("B", "1985-01-01", closed="2025-06-01", reason="迁出")  # moved out: not active
    c = f.ehr("C", "1940-01-01")  # died (death record, EHR not closed): not active
    f.death(c, "2025-03-01")
    f.ehr("D", "1985-01-01", created="2026-02-01")  # created after 2025: not active in 2025
    r = compute(f)
    # active: A (two copies = one person), F, G -> 3 of 10; used: A only
    assert r["EHR_FILING"] == (3, 10)
    assert r["EHR_USAGE"] == (1, 3)
    # 2026 (cut-off 2026-11-22): D is now active too; A's exam is older than 12 months
    r26 = compute(f, 2026)
    assert r26["EHR_FILING"] == (4, 1)  # 2026 population file holds the placeholder row only
    assert r26["EHR_USAGE"] == (0, 4)


def test_merged_copies_take_the_state_of_the_most_recently_updated_copy(tmp_path: Path) -> None:
    """Spec §6 (updated): an older open copy does not keep a person whose most recently updated
    copy was closed as moved out (迁出) on 2025-06-30 active; the reverse keeps them active."""
    f = Feed(tmp_path)
    f.population(40, 10)
    m_id = make_id("1985-01-01", 91)
    f.ehr("M1", "1985-01-01", id_number=m_id, created="2012-01-01")  # open, updated 2012
    f.ehr("M2", "1985-01-01", id_number=m_id, created="2020-01-01", closed="2025-06-30",
          reason="迁出")  # fmt: skip
    n_id = make_id("1985-01-01", 92)
    f.ehr("N1", "1985-01-01", id_number=n_id, created="2012-01-01", closed="2016-01-01",
          reason="迁出")  # fmt: skip
    f.ehr("N2", "1985-01-01", id_number=n_id, created="2021-01-01")  # came back: open
    r = compute(f)
    # M: moved out at the 2025 window end -> not active; N: active (one person, two copies)
    assert r["EHR_FILING"] == (1, 10)


def test_family_doctor_contracts_and_key_population(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.population(40, 20)
    contract = {"team_name": "一队", "start_date": "2025-03-01", "end_date": "2026-02-28"}
    k1 = f.ehr("K1", "1955-01-01")  # aged 70: key population, contract
    f.service("family_doctor_contracts", k1, **contract)
    # invalid ID whose digits say 1950, birth-date field says 1990: the field wins -> not elderly
    f.ehr("K2", "1990-06-01", id_number=make_id("1950-06-01", 3, valid=False))
    k3 = f.ehr("K3", "1985-01-01")  # HTN registry: key population, no contract
    f.service("htn_registry", k3, enrolled_on="2020-01-01")
    k4 = f.ehr("K4", "1990-01-01", sex="2")  # pregnant at year end, contract
    f.service("pregnancies", k4, registered_on="2025-10-01", lmp="2025-08-20")
    f.service("family_doctor_contracts", k4, **contract)
    k5 = f.ehr("K5", "1992-01-01", sex="2")  # delivered in August: no longer pregnant
    preg = f.service("pregnancies", k5, registered_on="2025-01-10", lmp="2024-11-20")
    f.service("deliveries", k5, pregnancy_record_id=preg, delivery_date="2025-08-01",
              outcome="活产", live_births=1)  # fmt: skip
    k6 = f.ehr("K6", "2020-01-01")  # aged 5: key population, contract with no end date
    f.service("family_doctor_contracts", k6, team_name="一队", start_date="2025-06-01",
              end_date=None)  # fmt: skip
    k7 = f.ehr("K7", "1955-01-01", closed="2025-05-01", reason="迁出")  # moved out, alive
    f.service("family_doctor_contracts", k7, **contract)
    k8 = f.ehr("K8", "1955-01-01")  # died in November: not alive at year end
    f.service("family_doctor_contracts", k8, **contract)
    f.death(k8, "2025-11-01")
    k9 = f.ehr("K9", "1985-01-01")  # contract ended before year end
    f.service("family_doctor_contracts", k9, team_name="一队", start_date="2024-01-01",
              end_date="2024-12-31")  # fmt: skip
    f.ehr("K10", None, id_number=make_id("1950-03-01", 5))  # no birth date: ID says 1950 -> 75
    r = compute(f)
    # alive with an active contract on 2025-12-31: K1, K4, K6, K7 (moved out but alive) -> 4/20
    assert r["FD_CONTRACT"] == (4, 20)
    # key population with an active EHR: K1, K3, K4, K6, K10 (K7 not active);
    # contracts: K1, K4, K6
    assert r["FD_KEYPOP_CONTRACT"] == (3, 5)


# --- chronic disease -----------------------------------------------------------------------------


def _htn_feed(tmp_path: Path) -> Feed:
    f = Feed(tmp_path)
    f.population(40, 100)
    f.population(70, 50)
    f.population(20, 50)  # aged >= 35: 150
    f2f = {"followup_mode": "face_to_face"}

    def fu(p: str, day: str, sbp: object, dbp: object, mode: str = "face_to_face") -> None:
        f.service("htn_followups", p, followup_date=day, sbp=sbp, dbp=dbp, followup_mode=mode)

    def patient(rid: str, birth: str, enrolled: str = "2020-01-01", **kw: object) -> str:
        p = f.ehr(rid, birth, **kw)
        f.service("htn_registry", p, enrolled_on=enrolled)
        return p

    # H1 (55): 4 face-to-face, 2 of them recorded on a duplicate EHR (lower-case x) -> standard;
    # last 138/85 -> controlled
    h1_id = make_id("1970-01-01", 11)[:17] + "X"
    h1 = patient("H1", "1970-01-01", id_number=h1_id)
    h1b = f.ehr("H1B", "1970-01-01", id_number=h1_id.lower(), created="2016-01-01")
    fu(h1, "2025-02-01", 130, 80)
    fu(h1b, "2025-05-01", 130, 80)
    fu(h1b, "2025-08-01", 130, 80)
    fu(h1, "2025-11-01", 138, 85)
    # H2 (75): 3 face-to-face + 1 telephone -> not standard; last reading 145/85 controlled (>= 65)
    h2 = patient("H2", "1950-01-01")
    fu(h2, "2025-02-01", 130, 80)
    fu(h2, "2025-05-01", 130, 80)
    fu(h2, "2025-08-01", 145, 85)
    fu(h2, "2025-11-01", None, None, mode="telephone")
    # H3 (55): 4 plausible face-to-face + a December visit with SBP 1450 (implausible -> missing):
    # standard; control uses Nov 145/85 -> not controlled (< 65: SBP must be < 140)
    h3 = patient("H3", "1970-01-01")
    for day in ["2025-02-01", "2025-05-01", "2025-08-01"]:
        fu(h3, day, 120, 80)
    fu(h3, "2025-11-01", 145, 85)
    fu(h3, "2025-12-10", 1450, 85)
    # H4: enrolled 2025-08-15 -> months Aug..Dec = 5 -> 2 required; 2 visits 120/80 -> standard
    h4 = patient("H4", "1970-01-01", enrolled="2025-08-15")
    fu(h4, "2025-09-01", 120, 80)
    fu(h4, "2025-12-01", 120, 80)
    # H5: no follow-up in 2025 -> managed, not standard, not controlled
    h5 = patient("H5", "1970-01-01")
    fu(h5, "2024-11-01", 120, 80)
    # H6: died 2024-12-01, before the window -> not managed
    h6 = patient("H6", "1950-01-01")
    f.death(h6, "2024-12-01")
    # H7: aged 30 -> outside the service population
    h7 = patient("H7", "1995-01-01")
    fu(h7, "2025-02-01", 120, 80)
    # H8: withdrawn (moved away) 2024-06-01 -> not managed
    h8 = f.ehr("H8", "1970-01-01")
    f.service("htn_registry", h8, enrolled_on="2020-01-01", withdrawn_on="2024-06-01",
              withdraw_reason="迁出")  # fmt: skip
    # H9: enrolled 2026 -> not managed in 2025
    patient("H9", "1970-01-01", enrolled="2026-02-01")
    # H10: died 2025-06-30: managed (alive at window start); 2 visits before death (last 120/80),
    # 2 after death (excluded) -> not standard, controlled
    h10 = patient("H10", "1960-01-01")
    f.death(h10, "2025-06-30")
    fu(h10, "2025-02-01", 120, 80)
    fu(h10, "2025-05-01", 120, 80)
    fu(h10, "2025-08-01", 160, 100)
    fu(h10, "2025-11-01", 160, 100)
    del f2f
    return f


def test_hypertension(tmp_path: Path) -> None:
    r = compute(_htn_feed(tmp_path))
    # managed: H1, H2, H3, H4, H5, H10 = 6; estimated patients 150 × 0.275 = 41.250
    assert r["HTN_MGMT"] == (6, Decimal("41.250"))
    # standard: H1, H3, H4
    assert r["HTN_STD_MGMT"] == (3, 6)
    # controlled: H1, H2 (>= 65 threshold), H4, H10
    assert r["HTN_BP_CONTROL"] == (4, 6)


def test_diabetes(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.population(40, 150)  # estimated patients 150 × 0.119 = 17.850
    f2f = {"followup_mode": "face_to_face"}
    t1 = f.ehr("T1", "1970-01-01")
    f.service("t2d_registry", t1, enrolled_on="2020-01-01")
    for day, fbg in [("2025-02-01", 8.0), ("2025-05-01", 7.5), ("2025-08-01", 7.1),
                     ("2025-11-01", 6.5)]:  # fmt: skip
        f.service("t2d_followups", t1, followup_date=day, fasting_glucose_mmol_l=fbg, **f2f)
    # T2: 3 plausible + a last visit with glucose 65 (×10, implausible): 3 < 4 -> not standard;
    # control falls back to the Aug reading 6.0 -> controlled
    t2 = f.ehr("T2", "1970-01-01")
    f.service("t2d_registry", t2, enrolled_on="2020-01-01")
    for day, fbg in [("2025-02-01", 8.0), ("2025-05-01", 7.5), ("2025-08-01", 6.0),
                     ("2025-11-01", 65.0)]:  # fmt: skip
        f.service("t2d_followups", t2, followup_date=day, fasting_glucose_mmol_l=fbg, **f2f)
    r = compute(f)
    assert r["T2D_MGMT"] == (2, Decimal("17.850"))
    assert r["T2D_STD_MGMT"] == (1, 2)
    assert r["T2D_FBG_CONTROL"] == (2, 2)


def test_severe_mental_disorders(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    days = ["2025-02-01", "2025-05-01", "2025-08-01", "2025-11-01"]

    def patient(rid: str, diagnosis: str, at_home: bool = True) -> str:
        p = f.ehr(rid, "1980-01-01")
        f.service("smd_registry", p, enrolled_on="2020-01-01", diagnosis=diagnosis,
                  living_at_home=at_home)  # fmt: skip
        return p

    # S1: 4 face-to-face with danger levels, last 稳定 -> standard and stable
    s1 = patient("S1", "精神分裂症")
    for day in days:
        f.service("smd_followups", s1, followup_date=day, followup_mode="face_to_face",
                  danger_level=0, stability="稳定")  # fmt: skip
    # S2: one visit lacks the danger level -> 3 < 4, not standard; last 不稳定 -> not stable
    s2 = patient("S2", "双相情感障碍")
    for i, day in enumerate(days):
        f.service("smd_followups", s2, followup_date=day, followup_mode="face_to_face",
                  danger_level=None if i == 1 else 1,
                  stability="不稳定" if i == 3 else "稳定")  # fmt: skip
    patient("S3", "抑郁症")  # not one of the 6 diagnoses
    patient("S4", "精神分裂症", at_home=False)  # not living at home
    r = compute(f)
    assert r["SMD_STD_MGMT"] == (1, 2)
    assert r["SMD_STABLE"] == (1, 2)


# --- elderly -------------------------------------------------------------------------------------

COMPLETE_EXAM = {
    "lifestyle_assessment": "吸烟:否",
    "self_care_score": 0,
    "sbp": 130,
    "dbp": 80,
    "height_cm": 165.0,
    "weight_kg": 60.0,
    "waist_cm": 80.0,
    "hemoglobin_g_l": 130.0,
    "wbc_10e9_l": 6.0,
    "platelets_10e9_l": 200.0,
    "urine_protein": "阴性",
    "urine_glucose": "阴性",
    "alt_u_l": 20.0,
    "ast_u_l": 20.0,
    "total_bilirubin_umol_l": 10.0,
    "creatinine_umol_l": 70.0,
    "urea_mmol_l": 5.0,
    "fasting_glucose_mmol_l": 5.5,
    "tc_mmol_l": 4.5,
    "tg_mmol_l": 1.2,
    "ldl_c_mmol_l": 2.5,
    "hdl_c_mmol_l": 1.3,
    "ecg_result": "正常",
    "abdominal_ultrasound_result": "正常",
    "health_guidance_given": True,
    "health_guidance": "防跌倒",
    "tcm_constitution": None,
    "tcm_guidance": None,
}
TCM = {"tcm_constitution": "平和质", "tcm_guidance": "饮食调养"}


def test_elderly_health_management_and_tcm(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.population(70, 50)
    f.population(60, 30)  # aged >= 65: 50
    e1 = f.ehr("E1", "1950-01-01")  # complete + guidance + TCM -> both numerators
    f.service("health_exams", e1, exam_date="2025-04-01", **(COMPLETE_EXAM | TCM))
    e2 = f.ehr("E2", "1950-01-01")  # no ECG -> incomplete; TCM -> ELD_TCM only
    f.service("health_exams", e2, exam_date="2025-04-01",
              **(COMPLETE_EXAM | TCM | {"ecg_result": None}))  # fmt: skip
    e3 = f.ehr("E3", "1961-01-01")  # aged 64 at year end -> not counted
    f.service("health_exams", e3, exam_date="2025-04-01", **(COMPLETE_EXAM | TCM))
    e4 = f.ehr("E4", "1950-01-01")  # SBP 1400 implausible -> BP missing -> incomplete
    f.service("health_exams", e4, exam_date="2025-04-01", **(COMPLETE_EXAM | {"sbp": 1400}))
    e5 = f.ehr("E5", "1950-01-01")  # exam in 2024 -> outside the window
    f.service("health_exams", e5, exam_date="2024-12-01", **COMPLETE_EXAM)
    e6 = f.ehr("E6", "1950-01-01")  # complete but no guidance -> not counted
    no_guidance = {"health_guidance_given": False, "health_guidance": None}
    f.service("health_exams", e6, exam_date="2025-04-01", **(COMPLETE_EXAM | no_guidance))
    e7 = f.ehr("E7", "1950-01-01")  # TCM constitution without TCM guidance -> not ELD_TCM
    f.service("health_exams", e7, exam_date="2025-04-01",
              **(COMPLETE_EXAM | {"tcm_constitution": "阴虚质"}))  # fmt: skip
    r = compute(f)
    # complete with guidance: E1, E7 -> 2 / 50; TCM: E1, E2 -> 2 / 50
    assert r["ELD_HEALTH_MGMT"] == (2, 50)
    assert r["ELD_TCM"] == (2, 50)


# --- maternal and newborn ------------------------------------------------------------------------


def _maternal_feed(tmp_path: Path) -> Feed:
    f = Feed(tmp_path)
    f.population(3, 20)  # aged 0-6: 20

    def mother(rid: str) -> str:
        return f.ehr(rid, "1992-01-01", sex="2")

    def baby(rid: str, birth: str, mother_rid: str, visit_day: str | None) -> None:
        b = f.ehr(rid, birth, created=birth)
        if visit_day:
            f.service("newborn_visits", b, mother_person_record_id=mother_rid,
                      visit_date=visit_day, birth_date=birth)  # fmt: skip

    # M1: LMP 2025-01-01, registered 2025-03-01 (8 weeks) -> early; 5 prenatal exams;
    # discharged 10-04, visit 10-20 (16 days) and 42-day check -> system management
    m1 = mother("M1")
    p1 = f.service("pregnancies", m1, registered_on="2025-03-01", lmp="2025-01-01")
    for day in ["2025-03-01", "2025-05-01", "2025-07-01", "2025-08-01", "2025-09-01"]:
        f.service("prenatal_exams", m1, pregnancy_record_id=p1, exam_date=day)
    d1 = f.service("deliveries", m1, pregnancy_record_id=p1, delivery_date="2025-10-01",
                   discharge_date="2025-10-04", outcome="活产", live_births=1)  # fmt: skip
    f.service("postpartum_visits", m1, delivery_record_id=d1, visit_date="2025-10-20")
    f.service("postpartum_42d_checks", m1, delivery_record_id=d1, check_date="2025-11-12")
    baby("B1", "2025-10-01", m1, "2025-10-08")  # visit at 7 days
    # M2: twins; LMP missing, recorded week 12 -> early; 4 exams; no discharge date, visit 34 days
    # after delivery -> no postpartum visit
    m2 = mother("M2")
    p2 = f.service("pregnancies", m2, registered_on="2025-01-10", lmp=None,
                   gestational_week_at_registration=12)  # fmt: skip
    for day in ["2025-01-10", "2025-02-10", "2025-03-10", "2025-04-10"]:
        f.service("prenatal_exams", m2, pregnancy_record_id=p2, exam_date=day)
    d2 = f.service("deliveries", m2, pregnancy_record_id=p2, delivery_date="2025-06-01",
                   discharge_date=None, outcome="活产", live_births=2)  # fmt: skip
    f.service("postpartum_visits", m2, delivery_record_id=d2, visit_date="2025-07-05")
    baby("B2A", "2025-06-01", m2, "2025-06-06")  # twin A: visit at 5 days
    baby("B2B", "2025-06-01", m2, "2025-07-01")  # twin B: visit at 30 days -> too late
    # M3: registered at 14 weeks -> not early; discharged 10-10, visit 11-05: 26 days after
    # discharge (35 after delivery) -> postpartum visit
    m3 = mother("M3")
    p3 = f.service("pregnancies", m3, registered_on="2025-04-09", lmp="2025-01-01")
    d3 = f.service("deliveries", m3, pregnancy_record_id=p3, delivery_date="2025-10-01",
                   discharge_date="2025-10-10", outcome="活产", live_births=1)  # fmt: skip
    f.service("postpartum_visits", m3, delivery_record_id=d3, visit_date="2025-11-05")
    baby("B3", "2025-10-01", m3, None)
    # M4: stillbirth -> not in the cohort
    m4 = mother("M4")
    f.service("deliveries", m4, pregnancy_record_id=None, delivery_date="2025-05-01",
              outcome="死产", live_births=0)  # fmt: skip
    # M5: no LMP and no recorded week -> not early; visit without delivery link, same mother,
    # 19 days after delivery -> postpartum visit
    m5 = mother("M5")
    p5 = f.service("pregnancies", m5, registered_on="2025-02-01", lmp=None,
                   gestational_week_at_registration=None)  # fmt: skip
    f.service("deliveries", m5, pregnancy_record_id=p5, delivery_date="2025-09-01",
              discharge_date="2025-09-03", outcome="活产", live_births=1)  # fmt: skip
    f.service("postpartum_visits", m5, delivery_record_id=None, visit_date="2025-09-20")
    baby("B5", "2025-09-01", m5, "2025-09-04")
    # M6: delivered 2024 -> outside the window
    m6 = mother("M6")
    f.service("deliveries", m6, delivery_date="2024-12-20", outcome="活产", live_births=1)
    return f


def test_maternal_indicators(tmp_path: Path) -> None:
    r = compute(_maternal_feed(tmp_path))
    # live births: M1 1 + M2 2 (twins) + M3 1 + M5 1 = 5
    assert r["MAT_EARLY_REG"] == (2, 5)  # M1, M2 (recorded week used when LMP missing)
    assert r["MAT_POSTPARTUM_VISIT"] == (3, 5)  # M1, M3 (from discharge), M5 (by mother)
    assert r["MAT_SYS_MGMT"] == (1, 5)  # M1


def test_same_day_prenatal_exams_count_once_for_system_management(tmp_path: Path) -> None:
    # M7: early registration, 5 exam records of the linked pregnancy but two on the same day
    # (exam_number 2 and 3, different readings) -> 4 exam dates (choice M3) -> not managed;
    # M8: the same plus a fifth exam date -> managed
    f = _maternal_feed(tmp_path)
    for rid, days in [
        ("M7", ["2025-03-01", "2025-05-01", "2025-05-01", "2025-07-01", "2025-08-01"]),
        ("M8", ["2025-03-01", "2025-05-01", "2025-05-01", "2025-07-01", "2025-08-01",
                "2025-09-01"]),
    ]:  # fmt: skip
        m = f.ehr(rid, "1992-01-01", sex="2")
        p = f.service("pregnancies", m, registered_on="2025-03-01", lmp="2025-01-01")
        for n, day in enumerate(days, start=1):
            f.service("prenatal_exams", m, pregnancy_record_id=p, exam_date=day, exam_number=n,
                      sbp=100 + n)  # fmt: skip
        d = f.service("deliveries", m, pregnancy_record_id=p, delivery_date="2025-10-01",
                      discharge_date="2025-10-04", outcome="活产", live_births=1)  # fmt: skip
        f.service("postpartum_visits", m, delivery_record_id=d, visit_date="2025-10-20")
        f.service("postpartum_42d_checks", m, delivery_record_id=d, check_date="2025-11-12")
    r = compute(f)
    # live births 5 + M7 + M8 = 7; managed: M1 and M8 (M7 has 4 exam dates)
    assert r["MAT_SYS_MGMT"] == (2, 7)
    assert r["MAT_EARLY_REG"] == (4, 7)


def test_newborn_visits_and_child_health_management(tmp_path: Path) -> None:
    f = _maternal_feed(tmp_path)
    c1 = f.ehr("C1", "2018-06-01")  # 6 y 11 m at the check -> counts
    f.service("child_health_checks", c1, check_date="2025-05-20")
    c2 = f.ehr("C2", "2018-01-01")  # 7 at the check -> does not count
    f.service("child_health_checks", c2, check_date="2025-05-20")
    c3 = f.ehr("C3", "2022-01-01")  # check in 2024 only
    f.service("child_health_checks", c3, check_date="2024-05-20")
    r = compute(f)
    # newborns born in 2025 visited within 28 days: B1, B2A, B5 -> 3 of 5 live births
    assert r["CH_NEWBORN_VISIT"] == (3, 5)
    # children 0-6 with a check or newborn visit in 2025: B1, B2A, B2B (30-day visit), B5, C1
    assert r["CH_HEALTH_MGMT"] == (5, 20)


def test_newborn_visit_numerator_is_live_births_of_the_cohort(tmp_path: Path) -> None:
    # Reconciled rule (choice C2): a visit counts only when it links the newborn to a cohort
    # delivery (same merged mother, birth date = delivery date), at most live_births per delivery.
    f = _maternal_feed(tmp_path)
    # B9: own EHR, mother without a district EHR / delivery record (mother reference null),
    # visited at 5 days -> not a live birth of the cohort: not in CH_NEWBORN_VISIT
    b9 = f.ehr("B9", "2025-07-01", created="2025-07-01")
    f.service("newborn_visits", b9, mother_person_record_id=None,
              mother_id_number="410108199001010000", visit_date="2025-07-06",
              birth_date="2025-07-01")  # fmt: skip
    # NB_RAW: no EHR, mother M3 (whose own baby B3 had no visit), born on M3's delivery date,
    # visited at 10 days -> M3's live birth is visited
    f.service("newborn_visits", "NB_RAW", mother_person_record_id="M3", visit_date="2025-10-11",
              birth_date="2025-10-01")  # fmt: skip
    # NB_M: mother M3 but born 2025-10-05 (no delivery of M3 that day) -> not linked
    f.service("newborn_visits", "NB_M", mother_person_record_id="M3", visit_date="2025-10-08",
              birth_date="2025-10-05")  # fmt: skip
    # NB_X: a second visited newborn of M1's single live birth -> capped at 1 (B1 already counts)
    f.service("newborn_visits", "NB_X", mother_person_record_id="M1", visit_date="2025-10-05",
              birth_date="2025-10-01")  # fmt: skip
    r = compute(f)
    # live births 5 (M1, M2 twins, M3, M5); visited: M1 (B1), M2 twin A, M3 (NB_RAW), M5 (B5)
    assert r["CH_NEWBORN_VISIT"] == (4, 5)
    # every visited newborn still counts for child health management: B1, B2A, B2B, B5, B9,
    # NB_RAW, NB_M, NB_X
    assert r["CH_HEALTH_MGMT"] == (8, 20)


def test_child_tcm(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    g = {"guidance_content": "摩腹"}
    # C1 born 2024-03-15: eligible 2024-09-15 … 2027-04-14, guidance at 12 months -> counts
    c1 = f.ehr("C1", "2024-03-15")
    f.service("child_tcm_guidance", c1, guidance_date="2025-03-15", **g)
    # C2 born 2022-01-10: eligible until 2025-02-09; guidance 2025-03-01 (37 months) -> no
    c2 = f.ehr("C2", "2022-01-10")
    f.service("child_tcm_guidance", c2, guidance_date="2025-03-01", **g)
    # C3 born 2025-08-01: 6 months only on 2026-02-01 -> not eligible in 2025
    c3 = f.ehr("C3", "2025-08-01", created="2025-08-10")
    f.service("child_tcm_guidance", c3, guidance_date="2025-12-01", **g)
    f.ehr("C4", "2021-06-01")  # eligibility ended 2024-06-30 -> not eligible
    r = compute(f)
    assert r["CH_TCM"] == (1, 2)


def test_vaccination_with_2025_dtap_change(tmp_path: Path) -> None:
    f = Feed(tmp_path)

    def vac(p: str, code: str, dose: object, day: str) -> None:
        f.service("vaccinations", p, vaccine_code=code, vaccine_name=code, dose_number=dose,
                  vaccination_date=day)  # fmt: skip

    # V1 born 2025-10-15 (2025 schedule): due in 2025: HepB1, BCG (10-15), HepB2 (11-15),
    # IPV1 and DTaP1 at 2 months (12-15; under the 2021 schedule DTaP1 would be due at 3 months,
    # in 2026) -> 5 due, all received (DTaP1 on 12-16)
    v1 = f.ehr("V1", "2025-10-15", created="2025-10-20")
    vac(v1, "HepB", 1, "2025-10-15")
    vac(v1, "BCG", 1, "2025-10-15")
    vac(v1, "HepB", 2, "2025-11-15")
    vac(v1, "IPV", 1, "2025-12-15")
    vac(v1, "DTaP", 1, "2025-12-16")
    # V2 born 2024-10-15 (2021 schedule): due in 2025: IPV2 (01-15), DTaP1 (01-15), bOPV1 and
    # DTaP2 (02-15), DTaP3 (03-15), HepB3 and MPSV_A1 (04-15), MMR1 and JE_L1 (06-15),
    # MPSV_A2 (07-15) = 10; MMR1 only as a wrong-typed record (dropped), JE_L1 missing -> 8/10
    v2 = f.ehr("V2", "2024-10-15", created="2024-10-20")
    for code, dose, day in [("IPV", 2, "2025-01-15"), ("DTaP", 1, "2025-01-15"),
                            ("bOPV", 1, "2025-02-15"), ("DTaP", 2, "2025-02-15"),
                            ("DTaP", 3, "2025-03-15"), ("HepB", 3, "2025-04-15"),
                            ("MPSV-A", 1, "2025-04-15"), ("MPSV-A", 2, "2025-07-20")]:  # fmt: skip
        vac(v2, code, dose, day)
    vac(v2, "MMR", "abc", "2025-06-15")
    # V3 born 2025-03-01, died 2025-04-10: due while alive: HepB1, BCG (03-01), HepB2 (04-01);
    # IPV1 / DTaP1 (05-01) are after death -> 3 due, HepB1 and BCG received
    v3 = f.ehr("V3", "2025-03-01", created="2025-03-05")
    vac(v3, "HepB", 1, "2025-03-01")
    vac(v3, "BCG", 1, "2025-03-01")
    f.death(v3, "2025-04-10", icd10="P07.3")
    r = compute(f)
    assert r["CH_VACCINATION"] == (15, 18)
    breakdown = compute_vaccination_breakdown(tmp_path, 2025, CUTOFF).set_index(
        ["vaccine_code", "dose_number"]
    )
    assert tuple(breakdown.loc[("DTaP", 1)]) == (2, 2)  # V1 (2025 schedule) and V2
    assert tuple(breakdown.loc[("MMR", 1)]) == (0, 1)


def test_vaccination_moved_out_and_late_health_record(tmp_path: Path) -> None:
    # Reconciled rules (choice C5): a child whose record was closed as moved out (迁出) before
    # the due date is not due; "with a health record" = EHR created <= window end.
    f = Feed(tmp_path)

    def vac(p: str, code: str, dose: object, day: str) -> None:
        f.service("vaccinations", p, vaccine_code=code, vaccine_name=code, dose_number=dose,
                  vaccination_date=day)  # fmt: skip

    # W1 born 2024-10-15 (2021 schedule), moved out 2025-02-15: due before / on the move-out
    # day: IPV2, DTaP1 (01-15), bOPV1, DTaP2 (02-15) = 4, received IPV2 and DTaP1; the 7 doses
    # due after 02-15 are not due here
    w1 = f.ehr("W1", "2024-10-15", created="2024-10-20", closed="2025-02-15", reason="迁出")
    vac(w1, "IPV", 2, "2025-01-15")
    vac(w1, "DTaP", 1, "2025-01-15")
    # W2 born 2025-12-31, EHR created 2026-01-05 (after the window): HepB1 / BCG due on
    # 2025-12-31 and received, but W2 had no health record in 2025 -> nowhere
    w2 = f.ehr("W2", "2025-12-31", created="2026-01-05")
    vac(w2, "HepB", 1, "2025-12-31")
    vac(w2, "BCG", 1, "2025-12-31")
    r = compute(f)
    assert r["CH_VACCINATION"] == (2, 4)


# --- outcomes ------------------------------------------------------------------------------------


def test_child_and_maternal_mortality(tmp_path: Path) -> None:
    f = Feed(tmp_path)

    def delivered(rid: str, day: str) -> str:
        m = f.ehr(rid, "1992-01-01", sex="2")
        f.service("deliveries", m, delivery_date=day, outcome="活产", live_births=1)
        return m

    i1 = f.ehr("I1", "2025-02-01", created="2025-02-10")  # died aged 0 -> IMR, U5MR
    f.death(i1, "2025-05-01", icd10="P22.0")
    i2 = f.ehr("I2", "2022-03-01")  # died aged 3 -> U5MR only
    f.death(i2, "2025-06-01", icd10="J18.9")
    i3 = f.ehr("I3", "2024-06-01")  # born 2024, died 2025 aged 0 -> IMR, U5MR
    f.death(i3, "2025-03-01", icd10="Q24.9")
    i4 = f.ehr("I4", "2023-01-01")  # died 2024: before the window
    f.death(i4, "2024-12-01", icd10="J18.9")
    # W1: died 19 days after delivery, O72.1, not flagged -> maternal (derived)
    f.death(delivered("W1", "2025-04-01"), "2025-04-20", icd10="O72.1")
    # W2: flagged, but a traffic accident (V43.5, external cause) -> excluded
    f.death(delivered("W2", "2025-05-01"), "2025-05-20", icd10="V43.5", pregnancy_related=True)
    # W3: died while pregnant (pregnancy closed 死亡 on the death date), not flagged -> maternal
    w3 = f.ehr("W3", "1992-01-01", sex="2")
    f.add("pregnancies", "PRG3", person_record_id=w3, facility_code=FAC1,
          registered_on="2025-03-01", lmp="2025-01-20")  # fmt: skip
    f.add("pregnancies", "PRG3", version=2, updated_at="2025-06-02T00:00:00Z",
          person_record_id=w3, facility_code=FAC1, registered_on="2025-03-01",
          lmp="2025-01-20", closed_on="2025-06-01", close_reason="死亡")  # fmt: skip
    f.death(w3, "2025-06-01", icd10="O99.4")
    # W6: flagged only (no pregnancy or delivery on record), cause O15 -> maternal
    w6 = f.ehr("W6", "1992-01-01", sex="2")
    f.death(w6, "2025-07-01", icd10="O15.0", pregnancy_related=True)
    # W4: died 59 days after delivery -> not maternal
    f.death(delivered("W4", "2025-01-01"), "2025-03-01", icd10="I21.9")
    delivered("W5", "2025-02-01")  # I1's mother
    r = compute(f)
    # live births: W1, W2, W4, W5 = 4
    assert r["OUT_IMR"] == (2, 4)
    assert r["OUT_U5MR"] == (3, 4)
    assert r["OUT_MMR"] == (3, 4)  # W1, W3, W6


def test_ncd_premature_mortality(tmp_path: Path) -> None:
    f = Feed(tmp_path)
    f.population(50, 600)
    f.population(50, 400, sex="女")  # band 50-54: 1000
    f.population(65, 500)  # band 65-69: 500
    for rid, birth, icd in [
        ("N1", "1975-01-01", "I21.9"),  # 50 -> band 50
        ("N2", "1973-01-01", "C34.9"),  # 52 -> band 50
        ("N3", "1958-01-01", "E11.9"),  # 67 -> band 65
        ("N4", "1980-01-01", "W19"),  # 45, external cause -> not NCD
        ("N5", "1953-01-01", "I21.9"),  # 72 -> above 69
        ("N6", "1996-01-01", "I21.9"),  # 29 -> below 30
        ("N7", "1975-01-01", "K74.6"),  # 50, cirrhosis -> not in the ranges
    ]:
        f.death(f.ehr(rid, birth), "2025-07-01", icd10=icd)
    bands = compute_ncd_premature_bands(f.write(), 2025, CUTOFF)
    assert bands[50] == (2, 1000)
    assert bands[65] == (1, 500)
    assert bands[30] == (0, 0) and bands[45] == (0, 0)
    # M = 0.002 in both bands: q = 0.01 / 1.005; value = 1 - (1 - q)^2
    q = Decimal("0.01") / Decimal("1.005")
    assert ncd_premature_value(bands) == 1 - (1 - q) * (1 - q)
    assert abs(float(ncd_premature_value(bands)) - 0.019801) < 1e-6
