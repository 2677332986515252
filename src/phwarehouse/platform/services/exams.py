"""Annual health examinations (elderly 65+ and registered chronic patients) with TCM
constitution identification."""

from __future__ import annotations

import numpy as np

from phwarehouse.platform.context import EXAM_MONTH_WEIGHTS
from phwarehouse.platform.dates import sample_days_in_months, sample_months, year_start
from phwarehouse.platform.records import Batch, updated_at

TCM_TYPES = np.array(
    ["平和质", "气虚质", "阳虚质", "阴虚质", "痰湿质", "湿热质", "血瘀质", "气郁质", "特禀质"],
    dtype=object,
)
TCM_P = [0.30, 0.16, 0.12, 0.10, 0.12, 0.07, 0.07, 0.04, 0.02]
LIFESTYLE = np.array(
    [
        "吸烟:否;饮酒:否;锻炼:每天;饮食:荤素均衡",
        "吸烟:是;饮酒:偶尔;锻炼:每周一次以上;饮食:嗜盐",
        "吸烟:否;饮酒:经常;锻炼:不锻炼;饮食:荤食为主",
        "吸烟:已戒;饮酒:否;锻炼:偶尔;饮食:素食为主",
    ],
    dtype=object,
)
GUIDANCE = np.array(
    [
        "纳入慢性病患者健康管理;定期随访",
        "建议低盐低脂饮食,适量运动,戒烟限酒",
        "防跌倒、预防骨质疏松、意外伤害预防",
        "定期体检;健康教育",
    ],
    dtype=object,
)
TCM_GUIDANCE = np.array(
    [
        "情志调摄、饮食调养、起居调摄、运动保健、穴位保健",
        "饮食调养、运动保健",
        "起居调摄、穴位保健",
    ],
    dtype=object,
)
#: Field groups a partial (incomplete) examination form may lack.
OMITTABLE = [
    ("ecg_result",),
    ("abdominal_ultrasound_result",),
    ("tc_mmol_l", "tg_mmol_l", "ldl_c_mmol_l", "hdl_c_mmol_l"),
    ("alt_u_l", "ast_u_l", "total_bilirubin_umol_l"),
    ("creatinine_umol_l", "urea_mmol_l"),
    ("waist_cm",),
    ("lifestyle_assessment", "self_care_score"),
    ("hemoglobin_g_l", "wbc_10e9_l", "platelets_10e9_l"),
    ("urine_protein", "urine_glucose"),
]


def health_exams(sim, year: int) -> None:
    p = sim.p
    rng = sim.rng("exams", year)
    ys, ye = year_start(year), year_start(year + 1)
    n = sim.n
    birth_year = p["birth"].astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    elderly = birth_year <= year - 65
    q = sim.ctx.quality[p["town"]]
    patient = (p["htn_enrol"] < ye) | (p["t2d_enrol"] < ye)
    want = np.where(elderly, p["u_exam"] < 0.60 + 0.35 * q, patient & (rng.random(n) < 0.35))
    day = sample_days_in_months(rng, year, sample_months(rng, n, EXAM_MONTH_WEIGHTS))
    ok = (
        p["has_ehr"]
        & want
        & (day >= p["ehr_created"])
        & (day < p["exit"])
        & (day >= ys)
        & (day >= p["entry"])
    )
    idx = np.flatnonzero(ok)
    day = day[idx]
    k = len(idx)
    old = elderly[idx]
    qi = q[idx]
    htn = p["htn_onset"][idx] < day
    t2d = p["t2d_onset"][idx] < day
    male = p["sex"][idx] == 1
    sbp = np.round(np.where(htn, rng.normal(142, 14, k), rng.normal(124, 11, k)))
    dbp = np.round(np.minimum(np.where(htn, rng.normal(86, 9, k), rng.normal(77, 7, k)), sbp - 20))
    height = np.where(male, rng.normal(168, 6, k), rng.normal(157, 5.5, k))
    bmi = rng.normal(24.3, 3.2, k)
    weight = bmi * (height / 100) ** 2
    cols = {
        "lifestyle_assessment": LIFESTYLE[rng.integers(0, len(LIFESTYLE), k)],
        "self_care_score": np.where(old, rng.choice([0, 0, 0, 0, 1, 2, 4, 9], k), np.nan),
        "sbp": sbp,
        "dbp": dbp,
        "height_cm": np.round(height, 1),
        "weight_kg": np.round(weight, 1),
        "waist_cm": np.round(np.where(male, rng.normal(88, 9, k), rng.normal(82, 9, k)), 1),
        "hemoglobin_g_l": np.round(np.where(male, rng.normal(142, 12, k), rng.normal(128, 11, k))),
        "wbc_10e9_l": np.round(rng.normal(6.2, 1.4, k), 1),
        "platelets_10e9_l": np.round(rng.normal(215, 50, k)),
        "urine_protein": rng.choice(
            np.array(["阴性", "±", "+", "++"], dtype=object), k, p=[0.88, 0.06, 0.05, 0.01]
        ),
        "urine_glucose": np.where(t2d & (rng.random(k) < 0.3), "+", "阴性").astype(object),
        "alt_u_l": np.round(np.clip(rng.lognormal(3.0, 0.4, k), 5, 300)),
        "ast_u_l": np.round(np.clip(rng.lognormal(3.1, 0.3, k), 8, 300)),
        "total_bilirubin_umol_l": np.round(np.clip(rng.normal(13, 4, k), 3, 60), 1),
        "creatinine_umol_l": np.round(np.where(male, rng.normal(82, 15, k), rng.normal(64, 12, k))),
        "urea_mmol_l": np.round(np.clip(rng.normal(5.6, 1.4, k), 1.5, 20), 1),
        "fasting_glucose_mmol_l": np.round(
            np.where(t2d, rng.normal(7.8, 1.6, k), np.clip(rng.normal(5.3, 0.5, k), 3.9, 6.9)), 1
        ),
        "tc_mmol_l": np.round(np.clip(rng.normal(4.9, 0.9, k), 2.5, 9), 2),
        "tg_mmol_l": np.round(np.clip(rng.lognormal(0.35, 0.45, k), 0.3, 10), 2),
        "ldl_c_mmol_l": np.round(np.clip(rng.normal(2.9, 0.8, k), 0.8, 6.5), 2),
        "hdl_c_mmol_l": np.round(np.clip(rng.normal(1.3, 0.3, k), 0.5, 3), 2),
        "ecg_result": np.where(rng.random(k) < 0.8, "正常", "异常:ST-T改变").astype(object),
        "abdominal_ultrasound_result": np.where(rng.random(k) < 0.75, "正常", "异常:脂肪肝").astype(
            object
        ),
    }
    for key, arr in cols.items():
        if arr.dtype != object:
            cols[key] = arr.astype(float)
    incomplete = rng.random(k) > np.where(old, 0.85 + 0.13 * qi, 0.7)
    group = rng.integers(0, len(OMITTABLE), k)
    for g, names in enumerate(OMITTABLE):
        rows = incomplete & (group == g)
        for name in names:
            arr = cols[name]
            arr[rows] = None if arr.dtype == object else np.nan
    guided = rng.random(k) < 0.96
    tcm = old & (rng.random(k) < 0.72 + 0.26 * qi)
    tcm_guided = tcm & (rng.random(k) < 0.97)
    pid, idn = sim.person_refs(rng, idx, day)
    rid, num = sim.rids("health_exams", k)
    sim.emit(
        Batch.build(
            "health_exams",
            rid,
            num,
            updated_at(rng, day, 7),
            person_record_id=pid,
            id_number=idn,
            facility_code=sim.facility_of(idx),
            exam_date=day,
            **cols,
            health_guidance_given=guided,
            health_guidance=np.where(guided, GUIDANCE[rng.integers(0, len(GUIDANCE), k)], None),
            tcm_constitution=np.where(tcm, TCM_TYPES[rng.choice(len(TCM_TYPES), k, p=TCM_P)], None),
            tcm_guidance=np.where(tcm_guided, TCM_GUIDANCE[rng.integers(0, 3, k)], None),
        ),
        (year, 400),
    )
