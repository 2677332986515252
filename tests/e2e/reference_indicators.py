"""Independent pandas reference for the district-level annual indicators.

Implemented from ``shared/spec/indicators.md`` (§1, §2, §5, §6), ``docs/platform_schema.md`` and
the dbt seeds (the configurable parameters) only, without reading the dbt models, so that the
warehouse's numbers can be checked against a second implementation.

Entry points:

* :func:`compute_district_year` — ``{code: (numerator, denominator)}`` for every spec indicator
  except ``OUT_NCD_PREMATURE``, district level, ``period_type = year``;
* :func:`compute_ncd_premature_bands` and :func:`ncd_premature_value` — the WHO life-table inputs
  and value of ``OUT_NCD_PREMATURE``;
* :func:`compute_vaccination_breakdown` — ``CH_VACCINATION`` per vaccine and dose;
* ``python tests/e2e/reference_indicators.py DIR 2025 2026`` prints the table.

Interpretation choices (where the spec is silent or ambiguous) — the lead reconciles these with the
warehouse's choices:

Ingestion (§6)
  I1. A line is a contract violation, dropped *before* versioning, when it is not a JSON object
      or lacks ``record_id`` / the person reference / the event date (tombstones need only the
      envelope). A field of the wrong type (spec §6, updated) — a numeric field holding a string
      that does not parse as a number, a date field that is not a valid ``YYYY-MM-DD`` date, a
      boolean field holding a non-boolean, a whole-number field (dose number, danger level,
      blood pressure, …) holding a fraction — is treated as missing and the record is kept.
      Numeric strings such as ``"120"`` are accepted and converted.
  I2. Lines with ``updated_at`` after the end of the cut-off day are ignored (data as of cut-off).
      The latest remaining version per ``record_id`` wins (highest ``version``, then
      ``updated_at``); a latest version that is a tombstone removes the record.
  I3. A service is linked to a person through ``person_record_id`` only (the EHR's record_id,
      then the merged person of that EHR). A reference to an unknown / dropped EHR makes the
      service an orphan that counts nowhere. Exception: newborn visits (see C2).
  I4. Impossible dates: a person-level record whose event date is after the cut-off, before the
      person's birth or after the person's death is dropped — applied to every person-level
      entity (services, registries, contracts, pregnancies, deliveries, deaths: after cut-off
      only). A health record whose ``ehr_created_on`` is after the cut-off is kept for linking
      services, but is never "active" (created ≤ window end fails).

Persons (§1, §6)
  P1. Duplicate EHRs are merged by the upper-cased ID number (an EHR without an ID number is its
      own person). Merged: earliest ``ehr_created_on``; managing facility, township, birth date,
      sex and closure (``ehr_closed_on`` / ``close_reason``) from the most recently updated copy.
      A null birth date falls back to another copy, then to the ID number; a null sex to the
      ID number (odd 17th digit = male).
  P2. Death date = earliest of the person's death records (any copy, not after the cut-off) and
      of ``ehr_closed_on`` of a copy closed with reason 死亡.
  P3. "Alive at the window start / a due date D" means no death before D (``death >= D``);
      "alive at the window end T" and "not deceased at T" mean ``death > T``.
  P4. Attribution: the managing facility when it is a facility-level org unit, else the facility
      of the person's township, else the person is excluded from every numerator and every
      counted denominator (official-population denominators are unaffected).
  P5. Ages in years are completed years from the birth date; "aged ≥ 65 at window end" with
      T = 31 December equals "birth year ≤ Y − 65". Ages in months use calendar-month
      addition with end-of-month clipping (31 Jan + 1 month = 28/29 Feb).

Window
  W1. Window = [1 January, 31 December] of the year, also for the cut-off year: statuses are
      evaluated at 31 December with the data known at the cut-off (so for an unfinished year
      the numerators lack the services after the cut-off; nothing is pro-rated).

Records and family doctors
  R1. Active EHR at T: a merged person, attributable, created ≤ T, not deceased at T, and the
      closure of the most recent copy (any reason) not ≤ T.
  R2. EHR_USAGE dynamic records: follow-ups (HTN, T2D, SMD; any mode), health exams,
      vaccinations, child health checks, newborn visits (of the newborn), child TCM guidance,
      pregnancy registrations, prenatal exams, deliveries, postpartum visits and 42-day checks,
      dated in (T − 12 months, T]. Contracts, registry cards and death records are not dynamic
      records. There is no clinic-encounter entity in the feed.
  R3. FD_CONTRACT counts attributable persons alive at T with an active contract at T; an active
      EHR is not required (the spec only says "alive").
  R4. Pregnant at T: a pregnancy registered ≤ T, not closed ≤ T, with no delivery of the same
      person (or linked to the pregnancy) dated in [registration, T].

Chronic disease
  K1. One managed patient per merged person: any qualifying registry card (enrolled ≤ T, not
      withdrawn before S, person alive at S); the earliest qualifying enrolment sets
      ``months_in_care``. HTN/T2D also need age ≥ 35 at T. Patients who die or leave during
      the window stay in the denominator with the full requirement.
  K2. Follow-ups count as records (not distinct dates); only ``followup_mode ==
      "face_to_face"`` counts for standardised management (null mode does not).
  K3. Control uses the latest follow-up in the window (any mode) with a plausible reading; ties
      on the date are broken by ``updated_at`` then ``record_id``. "Aged ≥ 65 at that visit"
      is the completed age on the visit date.
  K4. SMD registered patients: diagnosis among the 6, ``living_at_home`` true, and the managed
      patient rule of K1 (no age limit). SMD_STD_MGMT counts face-to-face follow-ups with a
      danger level that is an integer 0–5, against ceil(months_in_care / 3). SMD_STABLE uses the
      latest follow-up in the window (any mode); a null stability is not 稳定.
  K5. ``std_mgmt_requires_annual_exam`` is left at its default (false).

Elderly
  E1. Numerator: persons aged ≥ 65 at T, attributable, with one exam in the window that is
      complete (every ``is_required`` item of the seed recorded, measurements plausible per §5)
      and has health guidance (``health_guidance_given`` true, or null with guidance text).
      "With an EHR" = the exam links to a known health record (no creation-date test).
      Blood routine = haemoglobin, WBC and platelets all recorded; urine routine = urine
      protein and urine glucose; self-care = ``self_care_score`` within 0–19; waist and the
      laboratory values only need to be present (no §5 range).
  E2. ELD_TCM: one exam in the window with both ``tcm_constitution`` and ``tcm_guidance``.

Maternal
  M1. Cohort: deliveries (current records) dated in the window with ``live_births`` ≥ 1 of an
      attributable mother; ``live_births`` null with outcome 活产 counts as 1.
  M2. Early registration: the pregnancy linked by ``pregnancy_record_id`` was registered at a
      gestational age < 13 completed weeks: (registered_on − LMP) // 7, or
      ``gestational_week_at_registration`` when LMP is missing (a recorded week outside 4–42 is
      missing). Registration is the first prenatal examination (建册). No link = not registered.
  M3. Prenatal exams: records linked to the delivery's pregnancy, dated ≤ the delivery date,
      counted as distinct exam DATES (examination visits): two records of the same pregnancy on
      the same day count once, even with different ``record_id`` / ``exam_number`` / readings.
      The spec's "≥ 5 prenatal examinations" counts examination visits (产前检查次数, the 5
      scheduled visits of the 规范 spread over the pregnancy), and a same-day second record is
      a double entry, not a second visit (§6 merges every EHR copy's services into one person,
      which makes such double entries possible). Agreed with the warehouse
      (int_maternal__deliveries.prenatal_exam_count).
  M4. Postpartum visit / 42-day check linked to the delivery by ``delivery_record_id``, or (null
      link) by the same merged mother within 90 days after the delivery. The visit must be in
      [discharge, discharge + 28 days] (delivery date when discharge is missing); the 42-day
      check only needs to be on or after the delivery date.

Children
  C1. Live births (maternal and child denominators, IMR/U5MR/MMR) = Σ ``live_births`` of the M1
      cohort.
  C2. CH_NEWBORN_VISIT: the numerator is a subset of the denominator (the C1 live births): a
      live birth is visited when a newborn visit 0–28 days after birth links it to its delivery —
      the visit's mother (``mother_person_record_id`` → merged person) is the delivering mother
      and the newborn's birth date (its EHR's, else the visit's ``birth_date``) or the visit's
      ``birth_date`` equals the delivery date. Newborns are distinct (merged person of
      ``person_record_id``; if that EHR is unknown, the raw reference); at most ``live_births``
      visited newborns count per delivery. Newborns whose mother has no EHR / delivery record
      in the district (``mother_person_record_id`` null) are not live births of the cohort and
      do not count here (they do count for CH_HEALTH_MGMT). Reconciled with the warehouse:
      the spec's numerator is "live births in the window with ≥ 1 visit", i.e. a subset of its
      denominator; counting unlinked newborns could push the rate above 100 %.
  C3. CH_HEALTH_MGMT: distinct children with a child health check or newborn visit in the window
      while under 7 years old.
  C4. CH_TCM: children with an EHR created ≤ T whose eligibility span [birth + 6 months,
      birth + 37 months) (completed months 6–36) overlaps the window, and who were alive with an
      unclosed EHR at the start of that overlap; numerator: those with a guidance record in the
      window inside the span.
  C5. CH_VACCINATION: children with an EHR created ≤ T (attributable), schedule rows chosen by
      birth date (seed versions), due = birth + age_months (calendar months), due in the window,
      alive at the due date (P3) and whose record was not closed as moved out (迁出) before the
      due date (a child who has left the district is no longer due here — the same rule as C4's
      closed EHR and EHR_FILING's "not moved out"; reconciled with the warehouse); received = a
      record of the same vaccine (``-`` read as ``_``) and dose number at any date ≤ cut-off
      (and not before birth). "EHR created ≤ T" (with T the window end) is the reconciled rule
      for "with a health record" in C4 and C5: a child registered after the window is in none
      of that window's counts.

Outcomes
  O1. Deaths = the person's earliest death record in the year (one per merged person) of an
      attributable person; age at death in completed years; IMR < 1, U5MR < 5.
  O2. Maternal death: ``pregnancy_related`` true, or a female death while pregnant (R4 on the
      day before death) or 0–42 days after one of her deliveries; excluded when the ICD-10
      category (letter + 2 digits) is in the seed's OUT_MMR exclude range.
  O3. OUT_NCD_PREMATURE: deaths aged 30–69 with an included ICD-10 category; population = official
      population of the year in the band (both sexes, all townships). A band with zero
      population contributes q = 0. The value is returned as a fraction (× 100 for %).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"

# --- data contract (docs/platform_schema.md §8) -------------------------------------------------

#: entity -> (person reference field, event date field)
CONTRACT_KEYS: dict[str, tuple[str | None, str | None]] = {
    "org_units": (None, None),
    "residents": (None, "ehr_created_on"),
    "family_doctor_contracts": ("person_record_id", "start_date"),
    "htn_registry": ("person_record_id", "enrolled_on"),
    "t2d_registry": ("person_record_id", "enrolled_on"),
    "smd_registry": ("person_record_id", "enrolled_on"),
    "htn_followups": ("person_record_id", "followup_date"),
    "t2d_followups": ("person_record_id", "followup_date"),
    "smd_followups": ("person_record_id", "followup_date"),
    "health_exams": ("person_record_id", "exam_date"),
    "pregnancies": ("person_record_id", "registered_on"),
    "prenatal_exams": ("person_record_id", "exam_date"),
    "deliveries": ("person_record_id", "delivery_date"),
    "postpartum_visits": ("person_record_id", "visit_date"),
    "postpartum_42d_checks": ("person_record_id", "check_date"),
    "newborn_visits": ("person_record_id", "visit_date"),
    "child_health_checks": ("person_record_id", "check_date"),
    "child_tcm_guidance": ("person_record_id", "guidance_date"),
    "vaccinations": ("person_record_id", "vaccination_date"),
    "deaths": ("person_record_id", "death_date"),
}
SERVICE_ENTITIES = [e for e, (ref, _) in CONTRACT_KEYS.items() if ref is not None]

NUMERIC_FIELDS = frozenset(
    [
        "age_months",
        "birth_weight_g",
        "danger_level",
        "dbp",
        "dose_number",
        "exam_number",
        "gestational_week",
        "gestational_week_at_birth",
        "gestational_week_at_registration",
        "gravidity",
        "heart_rate",
        "live_births",
        "parity",
        "sbp",
        "self_care_score",
        "alt_u_l",
        "ast_u_l",
        "creatinine_umol_l",
        "fasting_glucose_mmol_l",
        "hdl_c_mmol_l",
        "head_circumference_cm",
        "height_cm",
        "hemoglobin_g_l",
        "ldl_c_mmol_l",
        "platelets_10e9_l",
        "tc_mmol_l",
        "tg_mmol_l",
        "total_bilirubin_umol_l",
        "urea_mmol_l",
        "waist_cm",
        "wbc_10e9_l",
        "weight_kg",
    ]
)
#: numeric fields whose values are whole numbers: a non-integer value is of the wrong type
INTEGER_FIELDS = frozenset(
    [
        "age_months",
        "birth_weight_g",
        "danger_level",
        "dbp",
        "dose_number",
        "exam_number",
        "gestational_week",
        "gestational_week_at_birth",
        "gestational_week_at_registration",
        "gravidity",
        "heart_rate",
        "live_births",
        "parity",
        "sbp",
        "self_care_score",
    ]
)
DATE_FIELDS = frozenset(
    [
        "birth_date",
        "check_date",
        "closed_on",
        "death_date",
        "delivery_date",
        "diagnosed_on",
        "discharge_date",
        "ehr_closed_on",
        "ehr_created_on",
        "end_date",
        "enrolled_on",
        "exam_date",
        "expected_delivery_date",
        "followup_date",
        "guidance_date",
        "lmp",
        "next_followup_date",
        "opened_on",
        "registered_on",
        "reported_on",
        "start_date",
        "vaccination_date",
        "visit_date",
        "withdrawn_on",
    ]
)
BOOLEAN_FIELDS = frozenset(
    ["health_guidance_given", "living_at_home", "pregnancy_related", "recovered"]
)

ENVELOPE = ["record_id", "version", "updated_at", "deleted"]
_FOLLOWUP = ["person_record_id", "followup_date", "followup_mode"]
_REGISTRY = ["person_record_id", "enrolled_on", "withdrawn_on"]
#: Payload fields the reference reads, per entity; absent ones are added as nulls.
USED_FIELDS: dict[str, list[str]] = {
    "org_units": ["org_unit_code", "level", "parent_code"],
    "residents": [
        "id_number",
        "sex_code",
        "birth_date",
        "township_code",
        "managing_facility_code",
        "ehr_created_on",
        "ehr_closed_on",
        "close_reason",
    ],
    "family_doctor_contracts": ["person_record_id", "start_date", "end_date"],
    "htn_registry": _REGISTRY,
    "t2d_registry": _REGISTRY,
    "smd_registry": [*_REGISTRY, "diagnosis", "living_at_home"],
    "htn_followups": [*_FOLLOWUP, "sbp", "dbp"],
    "t2d_followups": [*_FOLLOWUP, "fasting_glucose_mmol_l"],
    "smd_followups": [*_FOLLOWUP, "danger_level", "stability"],
    "health_exams": [
        "person_record_id",
        "exam_date",
        "lifestyle_assessment",
        "self_care_score",
        "sbp",
        "dbp",
        "height_cm",
        "weight_kg",
        "waist_cm",
        "hemoglobin_g_l",
        "wbc_10e9_l",
        "platelets_10e9_l",
        "urine_protein",
        "urine_glucose",
        "alt_u_l",
        "ast_u_l",
        "total_bilirubin_umol_l",
        "creatinine_umol_l",
        "urea_mmol_l",
        "fasting_glucose_mmol_l",
        "tc_mmol_l",
        "tg_mmol_l",
        "ldl_c_mmol_l",
        "hdl_c_mmol_l",
        "ecg_result",
        "abdominal_ultrasound_result",
        "health_guidance_given",
        "health_guidance",
        "tcm_constitution",
        "tcm_guidance",
    ],
    "pregnancies": [
        "person_record_id",
        "registered_on",
        "lmp",
        "gestational_week_at_registration",
        "closed_on",
    ],
    "prenatal_exams": ["person_record_id", "pregnancy_record_id", "exam_date"],
    "deliveries": [
        "person_record_id",
        "pregnancy_record_id",
        "delivery_date",
        "outcome",
        "live_births",
        "discharge_date",
    ],
    "postpartum_visits": ["person_record_id", "delivery_record_id", "visit_date"],
    "postpartum_42d_checks": ["person_record_id", "delivery_record_id", "check_date"],
    "newborn_visits": ["person_record_id", "mother_person_record_id", "visit_date", "birth_date"],
    "child_health_checks": ["person_record_id", "check_date"],
    "child_tcm_guidance": ["person_record_id", "guidance_date"],
    "vaccinations": ["person_record_id", "vaccine_code", "dose_number", "vaccination_date"],
    "deaths": ["person_record_id", "death_date", "underlying_cause_icd10", "pregnancy_related"],
}

#: EHR_USAGE dynamic records (choice R2).
DYNAMIC_ENTITIES = [
    "htn_followups",
    "t2d_followups",
    "smd_followups",
    "health_exams",
    "vaccinations",
    "child_health_checks",
    "newborn_visits",
    "child_tcm_guidance",
    "pregnancies",
    "prenatal_exams",
    "deliveries",
    "postpartum_visits",
    "postpartum_42d_checks",
]

SMD_DIAGNOSES = frozenset(
    [
        "精神分裂症",
        "分裂情感性障碍",
        "偏执性精神病",
        "双相情感障碍",
        "癫痫所致精神障碍",
        "精神发育迟滞伴发精神障碍",
    ]
)

MULTIPLIERS: dict[str, int] = {"OUT_IMR": 1000, "OUT_U5MR": 1000, "OUT_MMR": 100000}

Number = Decimal | int


# --- small helpers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """An assessment window [start, end] (both inclusive, midnight timestamps)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @classmethod
    def calendar_year(cls, year: int) -> Window:
        return cls(pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31))

    def contains(self, dates: pd.Series) -> pd.Series:
        return (dates >= self.start) & (dates <= self.end)


def completed_years(birth: pd.Series, at: pd.Series | pd.Timestamp) -> pd.Series:
    """Age in completed years at ``at`` (NaN when the birth date is unknown)."""
    at_s = at if isinstance(at, pd.Series) else pd.Series(at, index=birth.index)
    before_birthday = (at_s.dt.month * 100 + at_s.dt.day) < (birth.dt.month * 100 + birth.dt.day)
    return at_s.dt.year - birth.dt.year - before_birthday.astype(int)


def lookup_date(keys: pd.Series, dates: pd.Series) -> pd.Series:
    """``keys.map(dates)`` that stays a datetime Series when empty or all-missing."""
    if keys.empty:
        return pd.Series(pd.NaT, index=keys.index, dtype="datetime64[ns]")
    return pd.to_datetime(keys.map(dates))


def add_months(dates: pd.Series, months: int) -> pd.Series:
    """Calendar-month addition with end-of-month clipping."""
    return dates + pd.DateOffset(months=months)


def is_plausible_bp(sbp: pd.Series, dbp: pd.Series) -> pd.Series:
    """§5: SBP 50–300, DBP 30–200, SBP > DBP."""
    return sbp.between(50, 300) & dbp.between(30, 200) & (sbp > dbp)


def is_plausible_glucose(fbg: pd.Series) -> pd.Series:
    """§5: fasting glucose 1.0–35.0 mmol/L."""
    return fbg.between(1.0, 35.0)


def has_text(values: pd.Series) -> pd.Series:
    """True where a string field holds non-blank text."""
    return values.map(lambda v: isinstance(v, str) and v.strip() != "").astype(bool)


def icd10_category(code: object) -> str | None:
    """First letter + two digits, upper-cased, dot removed (``"i61.9"`` → ``"I61"``)."""
    if not isinstance(code, str):
        return None
    cleaned = code.replace(".", "").strip().upper()
    return cleaned[:3] if len(cleaned) >= 3 else None


def in_icd10_ranges(codes: pd.Series, ranges: Iterable[tuple[str, str]]) -> pd.Series:
    """True where the ICD-10 category lies in one of the inclusive ``(from, to)`` ranges."""
    ranges = list(ranges)

    def match(code: object) -> bool:
        cat = icd10_category(code)
        return cat is not None and any(lo <= cat <= hi for lo, hi in ranges)

    return codes.map(match).astype(bool)


def latest_per(frame: pd.DataFrame, key: str, date_col: str) -> pd.DataFrame:
    """The latest row per ``key`` by ``date_col``, ties broken by updated_at then record_id."""
    ordered = frame.sort_values([date_col, "updated_at", "record_id"])
    return ordered.drop_duplicates(key, keep="last")


def value(numerator: Number, denominator: Number, multiplier: int = 100) -> Decimal | None:
    """Rate = numerator / denominator × multiplier (None when the denominator is 0)."""
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator) * multiplier


# --- ingestion -----------------------------------------------------------------------------------


def _is_valid_date(v: object) -> bool:
    if not isinstance(v, str) or len(v) != 10:
        return False
    try:
        date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _coerce_number(v: object) -> tuple[bool, object]:
    """(ok, value): numbers pass, numeric strings are converted, other strings fail."""
    if v is None or (isinstance(v, int | float) and not isinstance(v, bool)):
        return True, v
    if isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            return False, v
        return (not math.isnan(f)), f
    return False, v


def validate_line(entity: str, line: str) -> dict | None:
    """The parsed record, or None for a contract violation (choice I1)."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(rec, dict) or not rec.get("record_id"):
        return None
    if not isinstance(rec.get("version"), int) or not isinstance(rec.get("updated_at"), str):
        return None
    if rec.get("deleted") is True:
        return rec
    person_ref, event_date = CONTRACT_KEYS.get(entity, (None, None))
    if person_ref and not rec.get(person_ref):
        return None
    if event_date and rec.get(event_date) is None:
        return None
    if event_date in DATE_FIELDS and not _is_valid_date(rec[event_date]):
        return None  # the event date is a contract key: an unparseable one drops the line
    for name, v in list(rec.items()):
        if v is None:
            continue
        if name in NUMERIC_FIELDS:
            ok, coerced = _coerce_number(v)
            if ok and name in INTEGER_FIELDS and not float(coerced).is_integer():
                ok = False  # spec §6: "a dose number that is not an integer" is missing
            rec[name] = coerced if ok else None
        elif (name in DATE_FIELDS and not _is_valid_date(v)) or (
            name in BOOLEAN_FIELDS and not isinstance(v, bool)
        ):
            rec[name] = None
    return rec


def read_current(data_dir: Path, entity: str, cutoff: date) -> pd.DataFrame:
    """Current version of every record of an entity (choices I1, I2), dates as Timestamps."""
    path = Path(data_dir) / "jsonl" / f"{entity}.jsonl"
    limit = f"{cutoff.isoformat()}T23:59:59Z"
    rows: list[dict] = []
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                rec = validate_line(entity, line)
                if rec is not None and rec["updated_at"] <= limit:
                    rows.append(rec)
    frame = pd.DataFrame(rows, columns=None if rows else ENVELOPE)
    for col in [*ENVELOPE, *USED_FIELDS.get(entity, [])]:
        if col not in frame.columns:
            frame[col] = None
    if not frame.empty:
        frame = frame.sort_values(["record_id", "version", "updated_at"])
        frame = frame.drop_duplicates("record_id", keep="last")
        frame = frame[frame["deleted"] != True].copy()  # noqa: E712 (object column)
    for col in frame.columns:
        if col in DATE_FIELDS:
            frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d")
        elif col in NUMERIC_FIELDS:
            frame[col] = pd.to_numeric(frame[col]).astype(float)
    return frame.reset_index(drop=True)


# --- seeds and population ------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeds:
    """The configurable parameters (dbt seeds)."""

    schedule: pd.DataFrame
    prevalence: pd.DataFrame
    icd10: pd.DataFrame
    exam_fields: list[str]

    @classmethod
    def load(cls, seeds_dir: Path = SEEDS_DIR) -> Seeds:
        schedule = pd.read_csv(seeds_dir / "immunization_schedule.csv", dtype=str)
        schedule["valid_for_birth_from"] = pd.to_datetime(schedule["valid_for_birth_from"])
        # 9999-12-31 (an open end) is beyond the Timestamp range: clip it to 2261-12-31.
        schedule["valid_for_birth_to"] = pd.to_datetime(
            schedule["valid_for_birth_to"].where(
                schedule["valid_for_birth_to"] < "2262", "2261-12-31"
            )
        )
        schedule["dose_number"] = schedule["dose_number"].astype(int)
        schedule["age_months"] = schedule["age_months"].astype(int)
        prevalence = pd.read_csv(seeds_dir / "prevalence_assumptions.csv", dtype=str)
        icd10 = pd.read_csv(seeds_dir / "icd10_cause_ranges.csv", dtype=str)
        fields = pd.read_csv(seeds_dir / "elderly_exam_required_fields.csv", dtype=str)
        required = fields[fields["is_required"].str.lower() == "true"]
        exam_fields = required.sort_values("display_order", key=lambda s: s.astype(int))
        return cls(schedule, prevalence, icd10, list(exam_fields["field_key"]))

    def icd10_ranges(self, indicator: str, role: str) -> list[tuple[str, str]]:
        rows = self.icd10[
            (self.icd10["indicator_code"] == indicator) & (self.icd10["range_role"] == role)
        ]
        return list(zip(rows["icd10_from"], rows["icd10_to"], strict=True))


def read_population(data_dir: Path, year: int) -> pd.DataFrame:
    """Official population (columns year, township, sex, age, population)."""
    path = Path(data_dir) / "population" / f"population_{year}.csv"
    raw = pd.read_csv(path, encoding="utf-8-sig", dtype={"乡镇街道代码": str})
    return raw.rename(
        columns={
            "年份": "year",
            "乡镇街道代码": "township",
            "乡镇街道名称": "township_name",
            "性别": "sex",
            "年龄": "age",
            "常住人口": "population",
        }
    )


def population_between(pop: pd.DataFrame, lo: int, hi: int) -> int:
    """Official population with lo ≤ age ≤ hi (100 = 100 and over)."""
    return int(pop.loc[pop["age"].between(lo, hi), "population"].sum())


# --- persons -------------------------------------------------------------------------------------


def _id_birth_dates(id_numbers: pd.Series) -> pd.Series:
    """Birth dates encoded in 18-character ID numbers (NaT when absent or invalid)."""
    ids = id_numbers.where(id_numbers.map(lambda v: isinstance(v, str) and len(v) == 18))
    return pd.to_datetime(ids.astype("string").str[6:14], format="%Y%m%d", errors="coerce")


def _id_sex(id_number: object) -> str | None:
    if not isinstance(id_number, str) or len(id_number) != 18 or not id_number[16].isdigit():
        return None
    return "1" if int(id_number[16]) % 2 == 1 else "2"


def build_persons(
    residents: pd.DataFrame, deaths: pd.DataFrame, org_units: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series]:
    """Merged persons (index person_key) and the EHR record_id → person_key map (choices P1–P4)."""
    res = residents.copy()
    ids = res["id_number"].map(
        lambda v: v.strip().upper() if isinstance(v, str) and v.strip() else None
    )
    res["person_key"] = ids.fillna("EHR:" + res["record_id"])
    res["birth_date"] = pd.to_datetime(res["birth_date"]).fillna(_id_birth_dates(res["id_number"]))
    res["sex_code"] = res["sex_code"].fillna(res["id_number"].map(_id_sex))

    res = res.sort_values(["updated_at", "record_id"])
    latest = res.drop_duplicates("person_key", keep="last").set_index("person_key")
    # birth date / sex: most recent copy, falling back to any other copy
    fallback = res.dropna(subset=["birth_date"]).drop_duplicates("person_key", keep="last")
    fallback = fallback.set_index("person_key")
    persons = pd.DataFrame(index=latest.index)
    persons["birth_date"] = latest["birth_date"].fillna(fallback["birth_date"])
    persons["sex_code"] = latest["sex_code"]
    persons["township_code"] = latest["township_code"]
    persons["managing_facility_code"] = latest["managing_facility_code"]
    persons["ehr_created_on"] = res.groupby("person_key")["ehr_created_on"].min()
    persons["ehr_closed_on"] = pd.to_datetime(latest["ehr_closed_on"])
    persons["close_reason"] = latest["close_reason"]

    record_to_person = res.set_index("record_id")["person_key"]

    # death date: death records (by EHR copy) and copies closed with 死亡
    death_dates = []
    d = deaths.assign(person_key=deaths["person_record_id"].map(record_to_person))
    death_dates.append(d.dropna(subset=["person_key"])[["person_key", "death_date"]])
    closed = res[(res["close_reason"] == "死亡") & res["ehr_closed_on"].notna()]
    death_dates.append(
        closed[["person_key", "ehr_closed_on"]].rename(columns={"ehr_closed_on": "death_date"})
    )
    all_deaths = pd.concat(death_dates, ignore_index=True)
    persons["death_date"] = pd.to_datetime(all_deaths.groupby("person_key")["death_date"].min())

    facilities = org_units[org_units["level"] == "facility"]
    facility_codes = set(facilities["org_unit_code"])
    township_facility = dict(
        zip(facilities["parent_code"], facilities["org_unit_code"], strict=True)
    )
    managing = persons["managing_facility_code"].where(
        persons["managing_facility_code"].isin(facility_codes)
    )
    persons["facility"] = managing.fillna(persons["township_code"].map(township_facility))
    persons["attributable"] = persons["facility"].notna()
    return persons, record_to_person


# --- dataset -------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Persons, linked and date-checked person-level records, population and seeds."""

    persons: pd.DataFrame
    record_to_person: pd.Series
    entities: dict[str, pd.DataFrame]
    cutoff: pd.Timestamp
    data_dir: Path
    seeds: Seeds

    def attributable(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows whose person is attributable (choice P4)."""
        return frame[
            frame["person_key"].map(self.persons["attributable"]).fillna(False).astype(bool)
        ]

    def population(self, year: int) -> pd.DataFrame:
        return read_population(self.data_dir, year)


def _link_and_check_dates(
    frame: pd.DataFrame, entity: str, ds_persons: pd.DataFrame, record_to_person: pd.Series,
    cutoff: pd.Timestamp,
) -> pd.DataFrame:  # fmt: skip
    """Attach person_key, event_date; drop orphans (I3) and impossible dates (I4)."""
    person_ref, event_col = CONTRACT_KEYS[entity]
    out = frame.copy()
    out["person_key"] = out[person_ref].map(record_to_person)
    out["event_date"] = out[event_col]
    if entity != "newborn_visits":  # newborn visits may fall back to the mother (C2)
        out = out[out["person_key"].notna()]
    birth = lookup_date(out["person_key"], ds_persons["birth_date"])
    death = lookup_date(out["person_key"], ds_persons["death_date"])
    bad = out["event_date"] > cutoff
    if entity != "deaths":
        bad |= (out["event_date"] < birth).fillna(False) | (out["event_date"] > death).fillna(False)
    return out[~bad].copy()


def load_dataset(data_dir: Path, cutoff: date, seeds_dir: Path = SEEDS_DIR) -> Dataset:
    """Read every entity of a simulator folder as of ``cutoff``."""
    data_dir = Path(data_dir)
    cutoff_ts = pd.Timestamp(cutoff)
    raw = {e: read_current(data_dir, e, cutoff) for e in CONTRACT_KEYS}
    deaths_raw = raw["deaths"]
    deaths_raw = deaths_raw[deaths_raw["death_date"] <= cutoff_ts]
    persons, record_to_person = build_persons(raw["residents"], deaths_raw, raw["org_units"])
    entities = {
        e: _link_and_check_dates(raw[e], e, persons, record_to_person, cutoff_ts)
        for e in SERVICE_ENTITIES
    }
    return Dataset(persons, record_to_person, entities, cutoff_ts, data_dir, Seeds.load(seeds_dir))


# --- records and family doctors ------------------------------------------------------------------


def active_ehr_persons(ds: Dataset, at: pd.Timestamp) -> pd.Index:
    """Persons with an active EHR at ``at`` (choice R1)."""
    p = ds.persons
    active = (
        p["attributable"]
        & (p["ehr_created_on"] <= at)
        & ~(p["death_date"] <= at)
        & ~(p["ehr_closed_on"] <= at)
    )
    return p.index[active]


def persons_with_active_contract(ds: Dataset, at: pd.Timestamp) -> pd.Index:
    c = ds.attributable(ds.entities["family_doctor_contracts"])
    active = (c["start_date"] <= at) & (c["end_date"].isna() | (c["end_date"] >= at))
    return pd.Index(c.loc[active, "person_key"].unique())


def pregnant_persons(ds: Dataset, at: pd.Timestamp) -> pd.Index:
    """Persons with a registered, undelivered, unclosed pregnancy at ``at`` (choice R4)."""
    preg = ds.entities["pregnancies"]
    open_ = preg[(preg["registered_on"] <= at) & ~(preg["closed_on"] <= at)]
    dlv = ds.entities["deliveries"]
    dlv = dlv[dlv["delivery_date"] <= at]
    merged = open_[["record_id", "person_key", "registered_on"]].merge(
        dlv[["person_key", "delivery_date", "pregnancy_record_id"]], on="person_key", how="left"
    )
    delivered = merged["delivery_date"].notna() & (
        (merged["delivery_date"] >= merged["registered_on"])
        | (merged["pregnancy_record_id"] == merged["record_id"])
    )
    delivered_ids = set(merged.loc[delivered, "record_id"])
    return pd.Index(open_.loc[~open_["record_id"].isin(delivered_ids), "person_key"].unique())


def registered_persons(ds: Dataset, registry: str, at: pd.Timestamp) -> pd.Index:
    reg = ds.entities[registry]
    ok = (reg["enrolled_on"] <= at) & ~(reg["withdrawn_on"] <= at)
    return pd.Index(reg.loc[ok, "person_key"].unique())


def records_family(ds: Dataset, w: Window, pop: pd.DataFrame) -> dict[str, tuple[Number, Number]]:
    """EHR_FILING, EHR_USAGE, FD_CONTRACT, FD_KEYPOP_CONTRACT."""
    p = ds.persons
    official = int(pop["population"].sum())
    active = active_ehr_persons(ds, w.end)

    usage_start = w.end - pd.DateOffset(months=12)
    used: set[str] = set()
    for entity in DYNAMIC_ENTITIES:
        f = ds.entities[entity]
        recent = f[(f["event_date"] > usage_start) & (f["event_date"] <= w.end)]
        used |= set(recent["person_key"].dropna())
    n_used = int(active.isin(list(used)).sum())

    contract = persons_with_active_contract(ds, w.end)
    alive = p.index[p["attributable"] & ~(p["death_date"] <= w.end)]
    n_contract = len(alive.intersection(contract))

    ages = completed_years(p["birth_date"], w.end)
    keypop = set(p.index[(ages >= 65) | ((ages >= 0) & (ages < 7))])
    keypop |= set(pregnant_persons(ds, w.end))
    for registry in ["htn_registry", "t2d_registry", "smd_registry"]:
        keypop |= set(registered_persons(ds, registry, w.end))
    keypop_active = active.intersection(pd.Index(list(keypop)))
    n_keypop_contract = len(keypop_active.intersection(contract))
    return {
        "EHR_FILING": (len(active), official),
        "EHR_USAGE": (n_used, len(active)),
        "FD_CONTRACT": (n_contract, official),
        "FD_KEYPOP_CONTRACT": (n_keypop_contract, len(keypop_active)),
    }


# --- chronic disease -----------------------------------------------------------------------------


def estimated_patients(pop: pd.DataFrame, prevalence: pd.DataFrame, condition: str) -> Decimal:
    """Σ official population in each band × prevalence (exact decimal)."""
    total = Decimal(0)
    for _, band in prevalence[prevalence["condition"] == condition].iterrows():
        n = population_between(pop, int(band["age_band_min"]), int(band["age_band_max"]))
        total += n * Decimal(band["prevalence"])
    return total


def managed_patients(ds: Dataset, registry: str, w: Window, min_age: int | None) -> pd.DataFrame:
    """One row per managed patient: person_key, enrolled_on, required follow-ups (choice K1)."""
    reg = ds.attributable(ds.entities[registry])
    death = lookup_date(reg["person_key"], ds.persons["death_date"])
    ok = (reg["enrolled_on"] <= w.end) & ~(reg["withdrawn_on"] < w.start) & ~(death < w.start)
    if registry == "smd_registry":
        ok &= reg["diagnosis"].isin(SMD_DIAGNOSES) & (reg["living_at_home"] == True)  # noqa: E712
    if min_age is not None:
        birth = lookup_date(reg["person_key"], ds.persons["birth_date"])
        ok &= completed_years(birth, w.end) >= min_age
    patients = reg[ok].groupby("person_key", as_index=False)["enrolled_on"].min()
    if patients.empty:
        return pd.DataFrame({"person_key": [], "enrolled_on": [], "required": []})
    first = patients["enrolled_on"].where(patients["enrolled_on"] > w.start, w.start)
    months = (w.end.year - first.dt.year) * 12 + (w.end.month - first.dt.month) + 1
    patients["required"] = (months / 3).map(math.ceil)
    return patients


def _followups_in_window(ds: Dataset, entity: str, w: Window) -> pd.DataFrame:
    f = ds.entities[entity]
    return f[w.contains(f["event_date"])]


def _std_count(patients: pd.DataFrame, qualifying: pd.DataFrame) -> int:
    """Patients whose number of qualifying follow-ups reaches ``required``."""
    counts = qualifying.groupby("person_key").size()
    if patients.empty:
        return 0
    done = patients["person_key"].map(counts).fillna(0)
    return int((done >= patients["required"]).sum())


def chronic_family(ds: Dataset, w: Window, pop: pd.DataFrame) -> dict[str, tuple[Number, Number]]:
    """HTN_*, T2D_*, SMD_*."""
    out: dict[str, tuple[Number, Number]] = {}
    prev = ds.seeds.prevalence

    # hypertension
    htn = managed_patients(ds, "htn_registry", w, 35)
    fu = _followups_in_window(ds, "htn_followups", w)
    fu = fu[fu["person_key"].isin(htn["person_key"])]
    plausible = fu[is_plausible_bp(fu["sbp"], fu["dbp"])]
    f2f = plausible[plausible["followup_mode"] == "face_to_face"]
    last = latest_per(plausible, "person_key", "event_date")
    age = completed_years(
        lookup_date(last["person_key"], ds.persons["birth_date"]), last["event_date"]
    )
    sbp_limit = age.ge(65).map({True: 150, False: 140})
    controlled = (last["sbp"] < sbp_limit) & (last["dbp"] < 90)
    out["HTN_MGMT"] = (len(htn), estimated_patients(pop, prev, "HTN"))
    out["HTN_STD_MGMT"] = (_std_count(htn, f2f), len(htn))
    out["HTN_BP_CONTROL"] = (int(controlled.sum()), len(htn))

    # type 2 diabetes
    t2d = managed_patients(ds, "t2d_registry", w, 35)
    fu = _followups_in_window(ds, "t2d_followups", w)
    fu = fu[fu["person_key"].isin(t2d["person_key"])]
    plausible = fu[is_plausible_glucose(fu["fasting_glucose_mmol_l"])]
    f2f = plausible[plausible["followup_mode"] == "face_to_face"]
    last = latest_per(plausible, "person_key", "event_date")
    out["T2D_MGMT"] = (len(t2d), estimated_patients(pop, prev, "T2D"))
    out["T2D_STD_MGMT"] = (_std_count(t2d, f2f), len(t2d))
    out["T2D_FBG_CONTROL"] = (int((last["fasting_glucose_mmol_l"] < 7.0).sum()), len(t2d))

    # severe mental disorders
    smd = managed_patients(ds, "smd_registry", w, None)
    fu = _followups_in_window(ds, "smd_followups", w)
    fu = fu[fu["person_key"].isin(smd["person_key"])]
    danger = fu["danger_level"]
    assessed = danger.notna() & danger.between(0, 5) & (danger == danger.round())
    f2f = fu[(fu["followup_mode"] == "face_to_face") & assessed]
    last = latest_per(fu, "person_key", "event_date")
    out["SMD_STD_MGMT"] = (_std_count(smd, f2f), len(smd))
    out["SMD_STABLE"] = (int((last["stability"] == "稳定").sum()), len(smd))
    return out


# --- elderly -------------------------------------------------------------------------------------


def _present(exams: pd.DataFrame, *cols: str) -> pd.Series:
    ok = pd.Series(True, index=exams.index)
    for col in cols:
        series = exams[col]
        ok &= series.notna() if pd.api.types.is_numeric_dtype(series) else has_text(series)
    return ok


def exam_item_recorded(exams: pd.DataFrame, field_key: str) -> pd.Series:
    """Whether an exam records one item of the required-field seed (choice E1)."""
    bp_ok = is_plausible_bp(exams["sbp"], exams["dbp"])
    checks = {
        "lifestyle_assessment": lambda: _present(exams, "lifestyle_assessment"),
        "self_care_assessment": lambda: exams["self_care_score"].between(0, 19),
        "sbp": lambda: bp_ok,
        "dbp": lambda: bp_ok,
        "height_cm": lambda: exams["height_cm"].between(120, 220),
        "weight_kg": lambda: exams["weight_kg"].between(1.5, 250),
        "waist_cm": lambda: _present(exams, "waist_cm"),
        "blood_routine": lambda: _present(
            exams, "hemoglobin_g_l", "wbc_10e9_l", "platelets_10e9_l"
        ),
        "urine_routine": lambda: _present(exams, "urine_protein", "urine_glucose"),
        "alt": lambda: _present(exams, "alt_u_l"),
        "ast": lambda: _present(exams, "ast_u_l"),
        "total_bilirubin": lambda: _present(exams, "total_bilirubin_umol_l"),
        "creatinine": lambda: _present(exams, "creatinine_umol_l"),
        "urea": lambda: _present(exams, "urea_mmol_l"),
        "fasting_glucose": lambda: is_plausible_glucose(exams["fasting_glucose_mmol_l"]),
        "tc": lambda: _present(exams, "tc_mmol_l"),
        "tg": lambda: _present(exams, "tg_mmol_l"),
        "ldl_c": lambda: _present(exams, "ldl_c_mmol_l"),
        "hdl_c": lambda: _present(exams, "hdl_c_mmol_l"),
        "ecg": lambda: _present(exams, "ecg_result"),
        "abdominal_ultrasound": lambda: _present(exams, "abdominal_ultrasound_result"),
    }
    if field_key not in checks:
        raise KeyError(f"elderly_exam_required_fields: unknown field_key {field_key!r}")
    return checks[field_key]().fillna(False).astype(bool)


def elderly_family(ds: Dataset, w: Window, pop: pd.DataFrame) -> dict[str, tuple[Number, Number]]:
    """ELD_HEALTH_MGMT and ELD_TCM."""
    exams = ds.attributable(ds.entities["health_exams"])
    exams = exams[w.contains(exams["event_date"])].copy()
    birth = lookup_date(exams["person_key"], ds.persons["birth_date"])
    exams = exams[completed_years(birth, w.end) >= 65]

    complete = pd.Series(True, index=exams.index)
    for key in ds.seeds.exam_fields:
        complete &= exam_item_recorded(exams, key)
    given = exams["health_guidance_given"]
    guidance = (given == True) | (given.isna() & _present(exams, "health_guidance"))  # noqa: E712
    tcm = _present(exams, "tcm_constitution", "tcm_guidance")
    official_65 = population_between(pop, 65, 200)
    return {
        "ELD_HEALTH_MGMT": (exams.loc[complete & guidance, "person_key"].nunique(), official_65),
        "ELD_TCM": (exams.loc[tcm, "person_key"].nunique(), official_65),
    }


# --- maternal ------------------------------------------------------------------------------------


def delivery_cohort(ds: Dataset, w: Window) -> pd.DataFrame:
    """Deliveries with ≥ 1 live birth in the window, mother attributable (choice M1)."""
    d = ds.attributable(ds.entities["deliveries"])
    d = d[w.contains(d["event_date"])].copy()
    d["births"] = d["live_births"].fillna((d["outcome"] == "活产").astype(int)).astype(int)
    return d[d["births"] >= 1]


def _gestational_weeks_at_registration(preg: pd.DataFrame) -> pd.Series:
    """Completed weeks from LMP, or the plausible recorded week when LMP is missing (M2)."""
    lmp = preg["lmp"]
    from_lmp = (preg["registered_on"] - lmp).dt.days // 7
    recorded = preg["gestational_week_at_registration"]
    recorded = recorded.where(recorded.between(4, 42))
    return from_lmp.where(lmp.notna(), recorded)


def _linked_to_delivery(events: pd.DataFrame, cohort: pd.DataFrame, max_days: int) -> pd.DataFrame:
    """(delivery record_id, event_date) pairs: explicit link, or same mother ≤ max_days (M4)."""
    cols = ["record_id", "person_key", "delivery_date"]
    link = events["delivery_record_id"]
    by_id = events[link.notna()].merge(
        cohort[cols], left_on="delivery_record_id", right_on="record_id", suffixes=("", "_dlv")
    )
    by_id = by_id.rename(columns={"record_id_dlv": "delivery_id"})
    by_person = events[link.isna()].merge(cohort[cols], on="person_key", suffixes=("", "_dlv"))
    by_person = by_person.rename(columns={"record_id_dlv": "delivery_id"})
    gap = (by_person["event_date"] - by_person["delivery_date"]).dt.days
    by_person = by_person[(gap >= 0) & (gap <= max_days)]
    return pd.concat(
        [f[["delivery_id", "event_date", "delivery_date"]] for f in (by_id, by_person)],
        ignore_index=True,
    )


def maternal_family(ds: Dataset, w: Window) -> dict[str, tuple[Number, Number]]:
    """MAT_EARLY_REG, MAT_POSTPARTUM_VISIT, MAT_SYS_MGMT (denominator: live births)."""
    cohort = delivery_cohort(ds, w)
    births = int(cohort["births"].sum())

    preg = ds.entities["pregnancies"]
    early_ids = set(preg.loc[_gestational_weeks_at_registration(preg) < 13, "record_id"])
    preg_id = cohort["pregnancy_record_id"]
    early = preg_id.isin(early_ids)

    exams = ds.entities["prenatal_exams"]
    exams = exams.merge(
        cohort[["pregnancy_record_id", "delivery_date"]].dropna(subset=["pregnancy_record_id"]),
        on="pregnancy_record_id",
    )
    exams = exams[exams["event_date"] <= exams["delivery_date"]]
    # distinct exam dates: same-day records are one examination visit (choice M3)
    n_exams = preg_id.map(exams.groupby("pregnancy_record_id")["event_date"].nunique()).fillna(0)

    base = cohort["discharge_date"].fillna(cohort["delivery_date"])
    base_by_id = pd.Series(base.values, index=cohort["record_id"])
    visits = _linked_to_delivery(ds.entities["postpartum_visits"], cohort, 90)
    gap = (visits["event_date"] - lookup_date(visits["delivery_id"], base_by_id)).dt.days
    visited_ids = set(visits.loc[(gap >= 0) & (gap <= 28), "delivery_id"])
    visited = cohort["record_id"].isin(visited_ids)

    checks = _linked_to_delivery(ds.entities["postpartum_42d_checks"], cohort, 90)
    checked_ids = set(checks.loc[checks["event_date"] >= checks["delivery_date"], "delivery_id"])
    checked = cohort["record_id"].isin(checked_ids)

    system = early & (n_exams >= 5) & visited & checked
    return {
        "MAT_EARLY_REG": (int(early.sum()), births),
        "MAT_POSTPARTUM_VISIT": (int(visited.sum()), births),
        "MAT_SYS_MGMT": (int(system.sum()), births),
    }


# --- children ------------------------------------------------------------------------------------


def newborn_visits(ds: Dataset) -> pd.DataFrame:
    """Newborn visits with newborn_key, birth date, mother_key and attribution (choice C2)."""
    nv = ds.entities["newborn_visits"].copy()
    nv["newborn_key"] = nv["person_key"].fillna(nv["person_record_id"])
    nv["birth"] = lookup_date(nv["person_key"], ds.persons["birth_date"]).fillna(nv["birth_date"])
    mother = nv["mother_person_record_id"].map(ds.record_to_person)
    nv["mother_key"] = mother
    attributable = ds.persons["attributable"]
    own = nv["person_key"].map(attributable)
    nv["attributable"] = own.fillna(mother.map(attributable)).fillna(False).astype(bool)
    return nv


def children_family(ds: Dataset, w: Window, pop: pd.DataFrame) -> dict[str, tuple[Number, Number]]:
    """CH_NEWBORN_VISIT, CH_HEALTH_MGMT, CH_TCM, CH_VACCINATION."""
    cohort = delivery_cohort(ds, w)
    births = int(cohort["births"].sum())

    nv = newborn_visits(ds)
    n_newborn = visited_live_births(nv, cohort)
    nv = nv[nv["attributable"]]

    checks = ds.attributable(ds.entities["child_health_checks"])
    checks = checks.assign(birth=lookup_date(checks["person_key"], ds.persons["birth_date"]))
    events = pd.concat(
        [
            checks[["person_key", "event_date", "birth"]].rename(columns={"person_key": "key"}),
            nv[["newborn_key", "event_date", "birth"]].rename(columns={"newborn_key": "key"}),
        ],
        ignore_index=True,
    )
    events = events[w.contains(events["event_date"])]
    under7 = completed_years(events["birth"], events["event_date"]) < 7
    n_checked = events.loc[under7, "key"].nunique()

    tcm = child_tcm(ds, w)
    vac_num, vac_den, _ = vaccination(ds, w)
    return {
        "CH_NEWBORN_VISIT": (n_newborn, births),
        "CH_HEALTH_MGMT": (n_checked, population_between(pop, 0, 6)),
        "CH_TCM": tcm,
        "CH_VACCINATION": (vac_num, vac_den),
    }


def visited_live_births(nv: pd.DataFrame, cohort: pd.DataFrame) -> int:
    """CH_NEWBORN_VISIT numerator: cohort live births visited 0–28 days after birth (C2).

    ``nv`` as returned by :func:`newborn_visits`; ``cohort`` as :func:`delivery_cohort`. A visit
    links to a delivery of the same merged mother whose date equals the newborn's birth date
    (EHR or visit); at most ``births`` distinct newborns count per delivery.
    """
    if nv.empty or cohort.empty:
        return 0
    visits = nv.dropna(subset=["mother_key"])
    links = visits.merge(
        cohort[["record_id", "person_key", "delivery_date", "births"]].rename(
            columns={"record_id": "delivery_id", "person_key": "mother_key"}
        ),
        on="mother_key",
        suffixes=("", "_dlv"),
    )
    visit_birth = pd.to_datetime(links["birth_date"])
    same_day = (links["birth"] == links["delivery_date"]) | (visit_birth == links["delivery_date"])
    age_days = (links["event_date"] - links["delivery_date"]).dt.days
    links = links[same_day & age_days.between(0, 28)]
    visited = links.groupby("delivery_id")["newborn_key"].nunique()
    births = cohort.set_index("record_id")["births"]
    return int(visited.clip(upper=births.reindex(visited.index)).sum())


def child_tcm(ds: Dataset, w: Window) -> tuple[int, int]:
    """CH_TCM numerator and denominator (choice C4)."""
    p = ds.persons
    kids = p[p["attributable"] & (p["ehr_created_on"] <= w.end) & p["birth_date"].notna()].copy()
    kids["span_start"] = add_months(kids["birth_date"], 6)
    kids["span_end"] = add_months(kids["birth_date"], 37)  # exclusive
    overlap_start = kids["span_start"].where(kids["span_start"] > w.start, w.start)
    in_window = (kids["span_start"] <= w.end) & (kids["span_end"] > w.start)
    alive = ~(kids["death_date"] < overlap_start) & ~(kids["ehr_closed_on"] < overlap_start)
    eligible = kids[in_window & alive]

    g = ds.entities["child_tcm_guidance"]
    g = g[w.contains(g["event_date"]) & g["person_key"].isin(eligible.index)]
    span_start = lookup_date(g["person_key"], eligible["span_start"])
    span_end = lookup_date(g["person_key"], eligible["span_end"])
    served = g[(g["event_date"] >= span_start) & (g["event_date"] < span_end)]
    return served["person_key"].nunique(), len(eligible)


def vaccination_doses(ds: Dataset, w: Window) -> pd.DataFrame:
    """One row per (child, scheduled dose) due in the window, with ``received`` (choice C5)."""
    p = ds.persons
    kids = p[p["attributable"] & (p["ehr_created_on"] <= w.end) & p["birth_date"].notna()]
    kids = kids[kids["birth_date"] <= w.end]
    schedule = ds.seeds.schedule
    vac = ds.entities["vaccinations"]
    vac = vac.dropna(subset=["vaccine_code", "dose_number"])
    given = set(
        zip(
            vac["person_key"],
            vac["vaccine_code"].astype(str).str.replace("-", "_"),
            vac["dose_number"].astype(int),
            strict=True,
        )
    )
    rows = []
    for _, dose in schedule.iterrows():
        born = kids["birth_date"]
        applies = (born >= dose["valid_for_birth_from"]) & (born <= dose["valid_for_birth_to"])
        sub = kids[applies]
        due = add_months(sub["birth_date"], int(dose["age_months"]))
        moved_out = sub["ehr_closed_on"].where(sub["close_reason"] == "迁出")
        due_ok = w.contains(due) & ~(sub["death_date"] < due) & ~(moved_out < due)
        for key in sub.index[due_ok]:
            rows.append(
                {
                    "person_key": key,
                    "vaccine_code": dose["vaccine_code"],
                    "dose_number": int(dose["dose_number"]),
                    "received": (key, dose["vaccine_code"], int(dose["dose_number"])) in given,
                }
            )
    return pd.DataFrame(rows, columns=["person_key", "vaccine_code", "dose_number", "received"])


def vaccination(ds: Dataset, w: Window) -> tuple[int, int, pd.DataFrame]:
    """CH_VACCINATION totals and the per vaccine/dose breakdown."""
    doses = vaccination_doses(ds, w)
    breakdown = (
        doses.groupby(["vaccine_code", "dose_number"])["received"]
        .agg(numerator="sum", denominator="size")
        .reset_index()
    )
    return int(doses["received"].sum()), len(doses), breakdown


# --- outcomes ------------------------------------------------------------------------------------


def deaths_in_window(ds: Dataset, w: Window) -> pd.DataFrame:
    """One death record per attributable person in the window, with age and sex (choice O1)."""
    d = ds.attributable(ds.entities["deaths"])
    d = d[w.contains(d["event_date"])].sort_values(["event_date", "record_id"])
    d = d.drop_duplicates("person_key", keep="first").copy()
    d["age"] = completed_years(
        lookup_date(d["person_key"], ds.persons["birth_date"]), d["event_date"]
    )
    d["sex_code"] = d["person_key"].map(ds.persons["sex_code"])
    return d


def _maternal_death(ds: Dataset, deaths: pd.DataFrame) -> pd.Series:
    """Deaths during pregnancy or within 42 days after a delivery (choice O2)."""
    maternal = deaths["pregnancy_related"] == True  # noqa: E712
    dlv = ds.entities["deliveries"][["person_key", "delivery_date"]]
    with_pregnancy = set(ds.entities["pregnancies"]["person_key"]) | set(dlv["person_key"])
    women = deaths[(deaths["sex_code"] == "2") & deaths["person_key"].isin(with_pregnancy)]
    for idx, row in women.iterrows():
        mine = dlv[dlv["person_key"] == row["person_key"]]
        gap = (row["event_date"] - mine["delivery_date"]).dt.days
        postpartum = bool(gap.between(0, 42).any())
        # pregnant on the eve of death (a pregnancy closed 死亡 closes on the death date)
        eve = row["event_date"] - pd.Timedelta(days=1)
        pregnant = row["person_key"] in set(pregnant_persons(ds, eve))
        maternal.loc[idx] = bool(maternal.loc[idx]) or postpartum or pregnant
    return maternal.astype(bool)


def outcomes_family(ds: Dataset, w: Window) -> dict[str, tuple[Number, Number]]:
    """OUT_IMR, OUT_U5MR, OUT_MMR (denominator: live births)."""
    cohort = delivery_cohort(ds, w)
    births = int(cohort["births"].sum())
    deaths = deaths_in_window(ds, w)
    external = in_icd10_ranges(
        deaths["underlying_cause_icd10"], ds.seeds.icd10_ranges("OUT_MMR", "exclude")
    )
    maternal = _maternal_death(ds, deaths) & ~external
    return {
        "OUT_IMR": (int((deaths["age"] < 1).sum()), births),
        "OUT_U5MR": (int((deaths["age"] < 5).sum()), births),
        "OUT_MMR": (int(maternal.sum()), births),
    }


# --- public API ----------------------------------------------------------------------------------


def compute_district_year(
    data_dir: Path, year: int, cutoff: date, seeds_dir: Path = SEEDS_DIR
) -> dict[str, tuple[Number, Number]]:
    """District-level annual (numerator, denominator) per indicator (all but OUT_NCD_PREMATURE)."""
    ds = load_dataset(data_dir, cutoff, seeds_dir)
    w = Window.calendar_year(year)
    pop = ds.population(year)
    result: dict[str, tuple[Number, Number]] = {}
    result |= records_family(ds, w, pop)
    result |= chronic_family(ds, w, pop)
    result |= elderly_family(ds, w, pop)
    result |= maternal_family(ds, w)
    result |= children_family(ds, w, pop)
    result |= outcomes_family(ds, w)
    return result


def compute_vaccination_breakdown(
    data_dir: Path, year: int, cutoff: date, seeds_dir: Path = SEEDS_DIR
) -> pd.DataFrame:
    """CH_VACCINATION per vaccine_code and dose_number (numerator, denominator)."""
    ds = load_dataset(data_dir, cutoff, seeds_dir)
    return vaccination(ds, Window.calendar_year(year))[2]


def compute_ncd_premature_bands(
    data_dir: Path, year: int, cutoff: date, seeds_dir: Path = SEEDS_DIR
) -> dict[int, tuple[int, int]]:
    """Band start age (30, 35, … 65) → (NCD deaths, official population) (choice O3)."""
    ds = load_dataset(data_dir, cutoff, seeds_dir)
    w = Window.calendar_year(year)
    pop = ds.population(year)
    deaths = deaths_in_window(ds, w)
    ncd = in_icd10_ranges(
        deaths["underlying_cause_icd10"], ds.seeds.icd10_ranges("OUT_NCD_PREMATURE", "include")
    )
    ages = deaths.loc[ncd, "age"]
    return {
        band: (int(ages.between(band, band + 4).sum()), population_between(pop, band, band + 4))
        for band in range(30, 70, 5)
    }


def ncd_premature_value(bands: dict[int, tuple[int, int]]) -> Decimal:
    """1 − Π(1 − q), q = 5M / (1 + 2.5M), M = deaths / population (a fraction, × 100 for %)."""
    survival = Decimal(1)
    for deaths, population in bands.values():
        if population <= 0:
            continue
        m = Decimal(deaths) / Decimal(population)
        q = 5 * m / (1 + Decimal("2.5") * m)
        survival *= 1 - q
    return 1 - survival


def format_table(data_dir: Path, year: int, cutoff: date) -> str:
    """The indicator table of one year as text (code, numerator, denominator, value)."""
    rows = compute_district_year(data_dir, year, cutoff)
    lines = [
        f"year {year} (cut-off {cutoff.isoformat()})",
        f"{'code':<22}{'num':>8}{'den':>14}{'value':>10}",
    ]
    for code, (num, den) in rows.items():
        v = value(num, den, MULTIPLIERS.get(code, 100))
        shown = "-" if v is None else f"{v:.2f}"
        lines.append(f"{code:<22}{num!s:>8}{den!s:>14}{shown:>10}")
    bands = compute_ncd_premature_bands(data_dir, year, cutoff)
    ncd = ncd_premature_value(bands) * 100
    band_text = " ".join(f"{b}:{d}/{p}" for b, (d, p) in bands.items())
    lines.append(f"{'OUT_NCD_PREMATURE':<22}{'':>8}{'':>14}{ncd:>10.2f}  [{band_text}]")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    """``reference_indicators.py DIR YEAR [YEAR ...] [--cutoff YYYY-MM-DD]``."""
    args = list(argv)
    cutoff_text = None
    if "--cutoff" in args:
        i = args.index("--cutoff")
        cutoff_text = args[i + 1]
        del args[i : i + 2]
    data_dir = Path(args[0])
    if cutoff_text is None:
        cutoff_text = json.loads((data_dir / "manifest.json").read_text())["as_of"]
    cutoff = date.fromisoformat(cutoff_text)
    for year in args[1:]:
        print(format_table(data_dir, int(year), cutoff))
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
