"""Static checks of the dbt seeds and project config against shared/spec/indicators.md.

No database needed: reads the CSV seeds, _seeds.yml and dbt_project.yml directly.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DBT = REPO / "dbt_project"
SEEDS = DBT / "seeds"
SPEC_CANDIDATES = [
    REPO.parent / "shared" / "spec" / "indicators.md",
    REPO / "shared" / "spec" / "indicators.md",
]

SPEC_CODES = [
    "EHR_FILING",
    "EHR_USAGE",
    "FD_CONTRACT",
    "FD_KEYPOP_CONTRACT",
    "HTN_MGMT",
    "HTN_STD_MGMT",
    "HTN_BP_CONTROL",
    "T2D_MGMT",
    "T2D_STD_MGMT",
    "T2D_FBG_CONTROL",
    "SMD_STD_MGMT",
    "SMD_STABLE",
    "ELD_HEALTH_MGMT",
    "ELD_TCM",
    "MAT_EARLY_REG",
    "MAT_POSTPARTUM_VISIT",
    "MAT_SYS_MGMT",
    "CH_NEWBORN_VISIT",
    "CH_HEALTH_MGMT",
    "CH_TCM",
    "CH_VACCINATION",
    "OUT_IMR",
    "OUT_U5MR",
    "OUT_MMR",
    "OUT_NCD_PREMATURE",
]
YEARS = range(2019, 2028)
DOC_2019 = "000_2efa5928195de3ec.txt"
DOC_2025 = "001_8c276d2e3dcc2cfe.txt"
DOC_FD = "003_c5a97ae31d2a954c.txt"


def read_seed(name: str) -> list[dict[str, str]]:
    with open(SEEDS / f"{name}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def as_bool(value: str) -> bool:
    assert value in ("true", "false"), value
    return value == "true"


@pytest.fixture(scope="module")
def catalogue() -> dict[str, dict[str, str]]:
    rows = read_seed("indicator_catalogue")
    return {r["indicator_code"]: r for r in rows}


@pytest.fixture(scope="module")
def targets() -> dict[tuple[str, int], dict[str, str]]:
    rows = read_seed("indicator_targets")
    keys = [(r["indicator_code"], int(r["year"])) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate (indicator_code, year) in indicator_targets"
    return dict(zip(keys, rows, strict=True))


@pytest.fixture(scope="module")
def schedule() -> list[dict[str, str]]:
    return read_seed("immunization_schedule")


# --- indicator_catalogue -------------------------------------------------------------------


def test_catalogue_has_every_spec_code_exactly_once():
    codes = [r["indicator_code"] for r in read_seed("indicator_catalogue")]
    assert Counter(codes) == Counter(SPEC_CODES)


def test_catalogue_codes_match_spec_document():
    spec = next((p for p in SPEC_CANDIDATES if p.exists()), None)
    if spec is None:
        pytest.skip("shared/spec/indicators.md not available")
    text = spec.read_text(encoding="utf-8")
    table_codes = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", text, flags=re.M))
    # §2 tables define the indicators; §3 rows may list several codes, all already in §2.
    section2 = text.split("## 2.")[1].split("## 3.")[0]
    spec_codes = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section2, flags=re.M))
    assert spec_codes == set(SPEC_CODES)
    assert table_codes >= spec_codes


def test_catalogue_attributes(catalogue):
    for code, r in catalogue.items():
        outcome = code.startswith("OUT_")
        assert r["direction"] == ("lower_is_better" if outcome else "higher_is_better"), code
        assert as_bool(r["is_annual_only"]) is outcome, code
        assert r["domain"] in {"records", "chronic", "elderly", "maternal", "child", "outcomes"}
        assert r["definition"].strip() and r["name_zh"].strip() and r["name_en"].strip()
        assert r["spec_section"].startswith("§2")
    cumulative = {c for c, r in catalogue.items() if as_bool(r["is_cumulative_coverage"])}
    assert cumulative == {"ELD_HEALTH_MGMT", "ELD_TCM", "CH_HEALTH_MGMT"}
    assert {c: int(r["multiplier"]) for c, r in catalogue.items() if c.startswith("OUT_")} == {
        "OUT_IMR": 1000,
        "OUT_U5MR": 1000,
        "OUT_MMR": 100000,
        "OUT_NCD_PREMATURE": 100,
    }
    assert all(
        int(r["multiplier"]) == 100 for c, r in catalogue.items() if not c.startswith("OUT_")
    )
    kinds = {c: r["denominator_kind"] for c, r in catalogue.items()}
    assert {c for c, k in kinds.items() if k == "estimated"} == {"HTN_MGMT", "T2D_MGMT"}
    assert {c for c, k in kinds.items() if k == "life_table"} == {"OUT_NCD_PREMATURE"}
    assert set(kinds.values()) == {"count", "estimated", "life_table"}
    assert catalogue["OUT_IMR"]["unit"] == "‰"
    assert catalogue["OUT_MMR"]["unit"] == "/10万"


# --- indicator_targets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "year", "comparator", "value"),
    [
        ("EHR_FILING", 2019, ">=", "75"),
        ("CH_VACCINATION", 2019, ">=", "90"),
        ("CH_NEWBORN_VISIT", 2019, ">=", "85"),
        ("CH_HEALTH_MGMT", 2019, ">=", "85"),
        ("MAT_EARLY_REG", 2019, ">=", "85"),
        ("MAT_POSTPARTUM_VISIT", 2019, ">=", "85"),
        ("ELD_HEALTH_MGMT", 2019, ">=", "67"),
        ("ELD_HEALTH_MGMT", 2024, ">=", "67"),
        ("ELD_HEALTH_MGMT", 2025, ">=", "65"),
        ("ELD_HEALTH_MGMT", 2027, ">=", "65"),
        ("HTN_STD_MGMT", 2019, ">=", "60"),
        ("T2D_STD_MGMT", 2019, ">=", "60"),
        ("SMD_STD_MGMT", 2019, ">=", "75"),
        ("SMD_STD_MGMT", 2027, ">=", "75"),
        ("ELD_TCM", 2025, ">=", "75"),
        ("OUT_IMR", 2025, "<=", "4.1"),
        ("OUT_U5MR", 2025, "<=", "4"),
        ("OUT_MMR", 2025, "<=", "9.5"),
        ("FD_CONTRACT", 2022, ">=", "66.71"),
        ("FD_KEYPOP_CONTRACT", 2022, ">=", "81.06"),
    ],
)
def test_target_values_match_spec(targets, code, year, comparator, value):
    row = targets[(code, year)]
    assert row["comparator"] == comparator
    assert Decimal(row["target_value"]) == Decimal(value)


def test_ncd_premature_target_is_decrease(targets):
    for year in (2025, 2026, 2027):
        row = targets[("OUT_NCD_PREMATURE", year)]
        assert row["comparator"] == "decrease"
        assert row["target_value"] == ""
    assert ("OUT_NCD_PREMATURE", 2024) not in targets


def test_explicit_targets_and_sources(targets):
    explicit = {k: r for k, r in targets.items() if not as_bool(r["carried_forward"])}
    expected_explicit = {
        **{
            (c, 2019): DOC_2019
            for c in (
                "EHR_FILING",
                "CH_VACCINATION",
                "CH_NEWBORN_VISIT",
                "CH_HEALTH_MGMT",
                "MAT_EARLY_REG",
                "MAT_POSTPARTUM_VISIT",
                "ELD_HEALTH_MGMT",
                "HTN_STD_MGMT",
                "T2D_STD_MGMT",
                "SMD_STD_MGMT",
            )
        },
        **{
            (c, 2025): DOC_2025
            for c in (
                "ELD_HEALTH_MGMT",
                "ELD_TCM",
                "OUT_IMR",
                "OUT_U5MR",
                "OUT_MMR",
                "OUT_NCD_PREMATURE",
            )
        },
        ("FD_CONTRACT", 2022): DOC_FD,
        ("FD_KEYPOP_CONTRACT", 2022): DOC_FD,
    }
    assert {k: r["source_document"] for k, r in explicit.items()} == expected_explicit
    for (code, year), r in explicit.items():
        assert int(r["source_year"]) == year, (code, year)
        assert r["source_section"].strip(), (code, year)


def test_carried_forward_rows_repeat_latest_earlier_target(targets):
    codes = {c for c, _ in targets}
    for code in codes:
        years = sorted(y for c, y in targets if c == code)
        assert years == list(range(years[0], 2028)), f"{code}: years must run to 2027 without gaps"
        assert not as_bool(targets[(code, years[0])]["carried_forward"]), code
        latest = None
        for year in years:
            row = targets[(code, year)]
            if as_bool(row["carried_forward"]):
                assert latest is not None
                for col in (
                    "comparator",
                    "target_value",
                    "is_reference_only",
                    "source_document",
                    "source_section",
                ):
                    assert row[col] == latest[col], (code, year, col)
                assert int(row["source_year"]) == int(latest["year"]), (code, year)
            else:
                latest = row


def test_targets_cover_years_and_reference_flags(targets, catalogue):
    assert {c for c, _ in targets} <= set(catalogue)
    assert {y for _, y in targets} == set(YEARS)
    for (code, _), row in targets.items():
        assert as_bool(row["is_reference_only"]) is code.startswith("FD_"), code
        assert row["comparator"] in {">=", "<=", "decrease"}
        expected = "<=" if catalogue[code]["direction"] == "lower_is_better" else ">="
        if row["comparator"] != "decrease":
            assert row["comparator"] == expected, code
    # Indicators whose first target is 2019 have a row for every year 2019-2027.
    for code in ("EHR_FILING", "HTN_STD_MGMT", "ELD_HEALTH_MGMT", "CH_VACCINATION"):
        assert all((code, y) in targets for y in YEARS), code


# --- immunization_schedule -----------------------------------------------------------------


def doses(schedule, version: int) -> dict[str, list[int]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for r in schedule:
        if int(r["schedule_version"]) == version:
            out.setdefault(r["vaccine_code"], []).append(
                (int(r["dose_number"]), int(r["age_months"]))
            )
    return {v: [m for _, m in sorted(ds)] for v, ds in out.items()}


EXPECTED_2021 = {
    "HepB": [0, 1, 6],
    "BCG": [0],
    "IPV": [2, 3],
    "bOPV": [4, 48],
    "DTaP": [3, 4, 5, 18],
    "DT": [72],
    "MMR": [8, 18],
    "JE_L": [8, 24],
    "MPSV_A": [6, 9],
    "MPSV_AC": [36, 72],
    "HepA_L": [18],
}


def test_schedule_2021(schedule):
    assert doses(schedule, 2021) == EXPECTED_2021
    assert len(doses(schedule, 2021)["DTaP"]) == 4


def test_schedule_2025_replaces_dt_with_fifth_dtap(schedule):
    expected = {k: v for k, v in EXPECTED_2021.items() if k != "DT"}
    expected["DTaP"] = [2, 4, 6, 18, 72]
    got = doses(schedule, 2025)
    assert got == expected
    assert "DT" not in got and len(got["DTaP"]) == 5


def test_schedule_keys_and_validity(schedule):
    keys = [(r["schedule_version"], r["vaccine_code"], r["dose_number"]) for r in schedule]
    assert len(keys) == len(set(keys))
    bounds = {
        (r["schedule_version"], r["valid_for_birth_from"], r["valid_for_birth_to"])
        for r in schedule
    }
    assert bounds == {("2021", "1900-01-01", "2024-12-31"), ("2025", "2025-01-01", "9999-12-31")}
    for r in schedule:
        assert int(r["dose_number"]) >= 1
        assert r["vaccine_name_zh"] and r["age_label_zh"]


# --- other seeds ---------------------------------------------------------------------------


def test_prevalence_defaults():
    rows = read_seed("prevalence_assumptions")
    for cond, prev in (("HTN", "0.275"), ("T2D", "0.119")):
        bands = sorted(
            (int(r["age_band_min"]), int(r["age_band_max"]), r["prevalence"])
            for r in rows
            if r["condition"] == cond
        )
        assert bands and bands[0][0] == 35
        assert all(Decimal(p) == Decimal(prev) for _, _, p in bands)
        for (_, hi, _), (lo, _, _) in itertools.pairwise(bands):
            assert lo == hi + 1, f"{cond}: bands must be contiguous"
        assert bands[-1][1] >= 120
    assert {r["condition"] for r in rows} == {"HTN", "T2D"}


def test_icd10_ranges():
    rows = read_seed("icd10_cause_ranges")
    got = {(r["indicator_code"], r["range_role"], r["icd10_from"], r["icd10_to"]) for r in rows}
    assert got == {
        ("OUT_NCD_PREMATURE", "include", "I00", "I99"),
        ("OUT_NCD_PREMATURE", "include", "C00", "C97"),
        ("OUT_NCD_PREMATURE", "include", "E10", "E14"),
        ("OUT_NCD_PREMATURE", "include", "J30", "J98"),
        ("OUT_MMR", "exclude", "V01", "Y98"),
    }
    assert len(rows) == len(got)


def test_elderly_exam_fields():
    rows = read_seed("elderly_exam_required_fields")
    keys = [r["field_key"] for r in rows]
    assert len(keys) == len(set(keys))
    assert set(keys) == {
        "lifestyle_assessment",
        "self_care_assessment",
        "sbp",
        "dbp",
        "height_cm",
        "weight_kg",
        "waist_cm",
        "blood_routine",
        "urine_routine",
        "alt",
        "ast",
        "total_bilirubin",
        "creatinine",
        "urea",
        "fasting_glucose",
        "tc",
        "tg",
        "ldl_c",
        "hdl_c",
        "ecg",
        "abdominal_ultrasound",
    }
    assert all(as_bool(r["is_required"]) for r in rows)


def test_every_seed_is_documented_and_typed():
    props = yaml.safe_load((SEEDS / "_seeds.yml").read_text(encoding="utf-8"))
    documented = {s["name"]: s for s in props["seeds"]}
    csvs = {p.stem for p in SEEDS.glob("*.csv")}
    assert set(documented) == csvs
    for name, seed in documented.items():
        with open(SEEDS / f"{name}.csv", newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert [c["name"] for c in seed["columns"]] == header, name
        assert set(seed["config"]["column_types"]) == set(header), name
        assert seed.get("description"), name
        assert all(c.get("description") for c in seed["columns"]), name


# --- dbt_project.yml vars ------------------------------------------------------------------


def test_project_vars_defaults():
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["name"] == "public_health" and project["profile"] == "public_health"
    v = project["vars"]
    assert v["assessment_year_start_month"] == 1
    assert v["reporting_lag_days"] == 15
    assert v["provisional_extra_days"] == 28
    assert v["std_mgmt_requires_annual_exam"] is False
    assert (v["first_year"], v["last_year"]) == (2019, 2027)
    ranges = {
        "sbp": (50, 300),
        "dbp": (30, 200),
        "fbg": (1.0, 35.0),
        "height_cm": (120, 220),
        "weight_kg": (1.5, 250),
        "birth_weight_g": (400, 6500),
        "gestational_week": (4, 42),
    }
    for measure, (lo, hi) in ranges.items():
        assert (v[f"plausible_{measure}_min"], v[f"plausible_{measure}_max"]) == (lo, hi), measure


def test_rule_constants_match_spec():
    """The indicator rule constants (spec §1-§2), each declared once as a project var."""
    v = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    expected = {
        "elderly_min_age": 65,
        "child_max_age_years": 6,
        "chronic_service_population_min_age": 35,
        "htn_control_sbp_limit": 140,
        "htn_control_sbp_limit_elderly": 150,
        "htn_control_dbp_limit": 90,
        "t2d_control_fbg_limit": 7.0,
        "early_registration_weeks": 13,
        "postpartum_visit_days": 28,
        "min_prenatal_exams": 5,
        "newborn_visit_max_days": 28,
        "tcm_min_age_months": 6,
        "tcm_max_age_months": 36,
        "maternal_death_days_after_delivery": 42,
        "ncd_premature_min_age": 30,
        "ncd_premature_max_age": 69,
        "ncd_premature_band_years": 5,
    }
    assert {name: v.get(name) for name in expected} == expected


def test_indicator_domains_are_the_catalogue_domains(catalogue):
    """Each catalogue domain has its int_indicator__<domain> model, listed once in the var."""
    domains = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"][
        "indicator_domains"
    ]
    assert len(domains) == len(set(domains))
    assert set(domains) == {row["domain"] for row in catalogue.values()}
    for domain in domains:
        models = list(
            (DBT / "models" / "intermediate" / "indicators").glob(f"*/int_indicator__{domain}.sql")
        )
        assert len(models) == 1, domain
