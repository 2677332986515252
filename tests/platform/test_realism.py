from __future__ import annotations

import json
from collections import Counter, defaultdict

import pandas as pd
from platform_helpers import current, records

from phwarehouse.platform.ids import is_valid_id
from phwarehouse.platform.org import load_district


def _population(d, year):
    return pd.read_csv(d / "population" / f"population_{year}.csv", encoding="utf-8-sig")


def test_population_table_has_chinese_headers_and_consistent_totals(clean_dir):
    manifest = json.loads((clean_dir / "manifest.json").read_text(encoding="utf-8"))
    for year in (2024, 2025, 2026):
        pop = _population(clean_dir, year)
        assert list(pop.columns) == [
            "年份",
            "乡镇街道代码",
            "乡镇街道名称",
            "性别",
            "年龄",
            "常住人口",
        ]
        assert set(pop["性别"]) == {"男", "女"}
        assert pop["乡镇街道代码"].nunique() == 8
        total = pop["常住人口"].sum()
        assert abs(total - 5000) / 5000 < 0.05
        assert manifest["official_population"][str(year)] == total


def test_age_structure_births_and_deaths(clean_dir):
    truth = json.loads((clean_dir / "manifest.json").read_text(encoding="utf-8"))["truth"]
    for year in (2024, 2025, 2026):
        pop = _population(clean_dir, year)
        share = pop.loc[pop["年龄"] >= 65, "常住人口"].sum() / pop["常住人口"].sum()
        assert 0.12 < share < 0.155, (year, share)
    pop_sum = sum(_population(clean_dir, y)["常住人口"].sum() for y in (2024, 2025, 2026))
    births = sum(truth[f"live_births_{y}"] for y in (2024, 2025, 2026))
    assert 5.5 < births / pop_sum * 1000 < 10.0
    deaths = sum(truth[f"deaths_{y}"] for y in (2024, 2025, 2026))
    assert 4.5 < deaths / pop_sum * 1000 < 9.5
    # live births on the platform: deliveries of mothers with an EHR, twins count twice
    live = sum(r["live_births"] for r in current(clean_dir, "deliveries").values())
    assert 0.7 * births < live <= births


def test_chronic_disease_prevalence(clean_dir):
    t = json.loads((clean_dir / "manifest.json").read_text(encoding="utf-8"))["truth"]
    htn = t["htn_adults_at_as_of"] / t["adults_at_as_of"]
    t2d = t["t2d_adults_at_as_of"] / t["adults_at_as_of"]
    assert 0.245 < htn < 0.31, htn
    assert 0.10 < t2d < 0.14, t2d
    smd_true = t["smd_at_as_of"] / t["residents_at_as_of"] * 1000
    assert 2.5 < smd_true < 7.0, smd_true
    # registries: enrolment is a (facility-dependent) share of the patients
    reg = current(clean_dir, "htn_registry")
    active = [r for r in reg.values() if r["withdrawn_on"] is None]
    assert 0.3 * t["htn_adults_at_as_of"] < len(active) < 0.8 * t["htn_adults_at_as_of"]
    smd = [r for r in current(clean_dir, "smd_registry").values() if r["withdrawn_on"] is None]
    assert 2.0 < len(smd) / t["residents_at_as_of"] * 1000 < 7.0
    diagnoses = {r["diagnosis"] for r in smd}
    assert diagnoses <= {
        "精神分裂症",
        "分裂情感性障碍",
        "偏执性精神病",
        "双相情感障碍",
        "癫痫所致精神障碍",
        "精神发育迟滞伴发精神障碍",
    }


def test_clean_ids_are_valid_and_consistent(clean_dir):
    res = current(clean_dir, "residents")
    assert len(res) > 4000
    for r in res.values():
        idn = r["id_number"]
        assert is_valid_id(idn), idn
        assert idn[6:14] == r["birth_date"].replace("-", "")
        assert int(idn[16]) % 2 == (1 if r["sex_code"] == "1" else 0)
        assert r["sex_code"] in {"0", "1", "2", "9"}
    ids = Counter(r["id_number"].upper() for r in res.values())
    assert max(ids.values()) == 1  # no duplicate EHRs when clean


def test_ehr_filing_between_70_and_95_percent(clean_dir):
    res = current(clean_dir, "residents").values()
    active = sum(
        1 for r in res if r["ehr_closed_on"] is None and r["ehr_created_on"] <= "2026-11-22"
    )
    pop = _population(clean_dir, 2026)["常住人口"].sum()
    assert 0.70 < active / pop < 0.95


def test_facilities_differ_in_performance(clean_dir):
    """Elderly health-exam coverage per facility spans the 67 % target."""
    district = load_district()
    res = current(clean_dir, "residents")
    elderly_by_fac = Counter()
    for r in res.values():
        if r["birth_date"] <= "1960-12-31" and r["ehr_closed_on"] is None:
            elderly_by_fac[r["managing_facility_code"]] += 1
    examined = defaultdict(set)
    for e in current(clean_dir, "health_exams").values():
        if e["exam_date"].startswith("2025"):
            person = res.get(e["person_record_id"])
            if person and person["birth_date"] <= "1960-12-31":
                examined[person["managing_facility_code"]].add(e["person_record_id"])
    rates = [len(examined[f.code]) / elderly_by_fac[f.code] for f in district.facilities]
    assert min(rates) < 0.67 < max(rates), rates


def test_monthly_progress_is_uneven(clean_dir):
    months = Counter(
        e["exam_date"][5:7]
        for e in current(clean_dir, "health_exams").values()
        if e["exam_date"].startswith("2025")
    )
    assert months["01"] + months["02"] < 0.5 * (months["10"] + months["11"])


def test_vaccination_schedule_change_for_2025_births(clean_dir):
    res = current(clean_dir, "residents")
    by_cohort = defaultdict(Counter)
    for v in current(clean_dir, "vaccinations").values():
        person = res.get(v["person_record_id"])
        if person:
            cohort = "new" if person["birth_date"] >= "2025-01-01" else "old"
            by_cohort[cohort][v["vaccine_code"]] += 1
    assert by_cohort["new"]["DTaP"] > 0 and by_cohort["new"]["DT"] == 0
    assert by_cohort["old"]["DT"] > 0


def test_deaths_have_icd10_causes_and_infant_deaths_exist(clean_dir):
    deaths = records(clean_dir, "deaths")
    assert deaths
    assert all(len(d["underlying_cause_icd10"]) >= 3 for d in deaths)
    chapters = Counter(d["underlying_cause_icd10"][0] for d in deaths)
    assert chapters["I"] + chapters["C"] > 0.4 * len(deaths)
