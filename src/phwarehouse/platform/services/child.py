"""Children 0-6: health checks, TCM guidance (6-36 months) and vaccinations (national
immunization schedule 2021, with the 2025-01-01 DTaP change for children born from 2025)."""

from __future__ import annotations

import numpy as np

from phwarehouse.platform.dates import add_months, age_months, day_of, year_start
from phwarehouse.platform.records import Batch, updated_at

CHECK_MONTHS = np.array([1, 3, 6, 8, 12, 18, 24, 30, 36, 48, 60, 72])
HEIGHT = np.array([54.7, 61.4, 67.6, 70.6, 75.7, 82.3, 87.8, 91.9, 96.1, 103.3, 110.0, 116.0])
WEIGHT = np.array([4.5, 6.4, 7.9, 8.6, 9.6, 10.9, 12.2, 13.3, 14.3, 16.3, 18.3, 20.5])
HEAD = np.array([37.3, 40.5, 43.3, 44.5, 46.1, 47.4, 48.3, 49.0, 49.5, 0, 0, 0])
TCM_MONTHS = np.array([6, 12, 18, 24, 30, 36])
TCM_CONTENT = np.array(
    [
        "饮食调养、起居活动指导;摩腹、捏脊",
        "饮食调养、起居活动指导;按揉迎香穴、足三里穴",
        "饮食调养、起居活动指导;按揉四神聪穴",
    ],
    dtype=object,
)
DTAP_CHANGE = day_of("2025-01-01")

# (code, name, dose, age in months)
SCHEDULE_COMMON = [
    ("HepB", "乙肝疫苗", 1, 0), ("HepB", "乙肝疫苗", 2, 1), ("HepB", "乙肝疫苗", 3, 6),
    ("BCG", "卡介苗", 1, 0), ("IPV", "脊灰灭活疫苗", 1, 2), ("IPV", "脊灰灭活疫苗", 2, 3),
    ("bOPV", "脊灰减毒活疫苗", 1, 4), ("bOPV", "脊灰减毒活疫苗", 2, 48),
    ("MMR", "麻腮风疫苗", 1, 8), ("MMR", "麻腮风疫苗", 2, 18),
    ("JE-L", "乙脑减毒活疫苗", 1, 8), ("JE-L", "乙脑减毒活疫苗", 2, 24),
    ("MPSV-A", "A群流脑多糖疫苗", 1, 6), ("MPSV-A", "A群流脑多糖疫苗", 2, 9),
    ("MPSV-AC", "A群C群流脑多糖疫苗", 1, 36), ("MPSV-AC", "A群C群流脑多糖疫苗", 2, 72),
    ("HepA-L", "甲肝减毒活疫苗", 1, 18),
]  # fmt: skip
SCHEDULE_2021_DTAP = [
    ("DTaP", "百白破疫苗", 1, 3), ("DTaP", "百白破疫苗", 2, 4), ("DTaP", "百白破疫苗", 3, 5),
    ("DTaP", "百白破疫苗", 4, 18), ("DT", "白破疫苗", 1, 72),
]  # fmt: skip
SCHEDULE_2025_DTAP = [
    ("DTaP", "百白破疫苗", 1, 2), ("DTaP", "百白破疫苗", 2, 4), ("DTaP", "百白破疫苗", 3, 6),
    ("DTaP", "百白破疫苗", 4, 18), ("DTaP", "百白破疫苗", 5, 72),
]  # fmt: skip


def schedule_for(born_2025_or_later: bool) -> list[tuple[str, str, int, int]]:
    return SCHEDULE_COMMON + (SCHEDULE_2025_DTAP if born_2025_or_later else SCHEDULE_2021_DTAP)


def _children(sim, lo: int, hi: int) -> np.ndarray:
    p = sim.p
    return np.flatnonzero(
        p["has_ehr"]
        & (p["ehr_created"] < p["exit"])
        & (p["birth"] > lo - 7 * 366)
        & (p["birth"] < hi)
        & (p["exit"] > lo)
    )


def child_checks(sim, year: int) -> None:
    p = sim.p
    rng = sim.rng("child", year)
    ys, ye = year_start(year), year_start(year + 1)
    idx = _children(sim, ys, ye)
    n = len(idx)
    q = sim.q(idx)
    good = p["u_child"][idx] < 0.72 + 0.25 * q
    rows_i, rows_m, rows_d = [], [], []
    for mi, months in enumerate(CHECK_MONTHS):
        due = add_months(p["birth"][idx], months)
        day = due + rng.integers(-5, 26, n)
        done = rng.random(n) < np.where(good, 0.95, 0.45)
        ok = done & (due >= ys) & (due < ye) & (day < p["exit"][idx])
        rows_i.append(idx[ok])
        rows_m.append(np.full(ok.sum(), mi))
        rows_d.append(day[ok])
    ci, cm, cd = np.concatenate(rows_i), np.concatenate(rows_m), np.concatenate(rows_d)
    k = len(ci)
    age_m = age_months(p["birth"][ci], cd)
    hb_due = np.isin(CHECK_MONTHS[cm], [6, 18, 30, 36, 48, 60, 72])
    head = np.where(HEAD[cm] > 0, np.round(HEAD[cm] * rng.normal(1, 0.03, k), 1), np.nan)
    pid, idn = sim.person_refs(rng, ci, cd)
    rid, num = sim.rids("child_health_checks", k)
    sim.emit(
        Batch.build(
            "child_health_checks", rid, num, updated_at(rng, cd), person_record_id=pid,
            id_number=idn, facility_code=sim.provider(rng, ci, cd, 0.1), check_date=cd,
            age_months=age_m, height_cm=np.round(HEIGHT[cm] * rng.normal(1, 0.035, k), 1),
            weight_kg=np.round(WEIGHT[cm] * rng.normal(1, 0.1, k), 1),
            head_circumference_cm=head,
            hemoglobin_g_l=np.where(hb_due, np.round(rng.normal(120, 10, k)), np.nan),
            development_assessment=np.where(rng.random(k) < 0.97, "通过", "未通过").astype(object),
        ),
        (year, 500),
    )  # fmt: skip
    # TCM guidance at 6-36 months
    tq = 0.62 + 0.35 * q
    rows_i, rows_d = [], []
    for months in TCM_MONTHS:
        due = add_months(p["birth"][idx], months)
        day = due + rng.integers(-3, 28, n)
        ok = (rng.random(n) < tq) & (due >= ys) & (due < ye) & (day < p["exit"][idx])
        rows_i.append(idx[ok])
        rows_d.append(day[ok])
    ti, td = np.concatenate(rows_i), np.concatenate(rows_d)
    k = len(ti)
    pid, idn = sim.person_refs(rng, ti, td)
    rid, num = sim.rids("child_tcm_guidance", k)
    sim.emit(
        Batch.build(
            "child_tcm_guidance", rid, num, updated_at(rng, td), person_record_id=pid,
            id_number=idn, facility_code=sim.facility_of(ti), guidance_date=td,
            age_months=age_months(p["birth"][ti], td),
            guidance_content=TCM_CONTENT[rng.integers(0, 3, k)],
        ),
        (year, 501),
    )  # fmt: skip


def vaccinations(sim, lo: int, hi: int, key: tuple[int, int], stream_year: int) -> None:
    """Doses due in [lo, hi) for children with an EHR."""
    p = sim.p
    rng = sim.rng("vax", stream_year)
    idx = _children(sim, lo, hi)
    n = len(idx)
    good = p["u_vax"][idx] < 0.93 + 0.06 * sim.q(idx)
    new = p["birth"][idx] >= DTAP_CHANGE
    rows: list[tuple[np.ndarray, np.ndarray, str, str, int]] = []
    for cohort_new in (False, True):
        for code, name, dose, months in schedule_for(cohort_new):
            due = add_months(p["birth"][idx], months)
            u = rng.random(n)
            r = rng.random(n)
            delay = np.where(
                r < 0.8,
                (r * 18).astype(np.int64),
                np.where(
                    r < 0.95,
                    15 + ((r - 0.8) * 300).astype(np.int64),
                    61 + ((r - 0.95) * 2400).astype(np.int64),
                ),
            )
            day = due + delay
            ok = (
                (new == cohort_new)
                & (u < np.where(good, 0.99, 0.6))
                & (due >= lo)
                & (due < hi)
                & (day < p["exit"][idx])
            )
            rows.append((idx[ok], day[ok], code, name, dose))
    vi = np.concatenate([r[0] for r in rows])
    vd = np.concatenate([r[1] for r in rows])
    codes = np.concatenate([np.full(len(r[0]), r[2], dtype=object) for r in rows])
    names = np.concatenate([np.full(len(r[0]), r[3], dtype=object) for r in rows])
    doses = np.concatenate([np.full(len(r[0]), r[4]) for r in rows])
    k = len(vi)
    pid, idn = sim.person_refs(rng, vi, vd)
    rid, num = sim.rids("vaccinations", k)
    yy = vd.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    serial = rng.integers(0, 99999, k)
    batch_no = np.array(
        [f"{y}{b:05d}" for y, b in zip(yy.tolist(), serial.tolist(), strict=True)], dtype=object
    )
    sim.emit(
        Batch.build(
            "vaccinations", rid, num, updated_at(rng, vd), person_record_id=pid, id_number=idn,
            facility_code=sim.facility_of(vi), vaccine_code=codes, vaccine_name=names,
            dose_number=doses, vaccination_date=vd, batch_number=batch_no,
        ),
        key,
    )  # fmt: skip
