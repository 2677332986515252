"""Demographic and epidemiological parameters: age/sex structure, mortality, fertility,
migration, chronic-disease prevalence and causes of death."""

from __future__ import annotations

import numpy as np

MAX_AGE = 100
AGES = np.arange(MAX_AGE + 1)

# Relative weight of each 5-year band 0-4 … 95-99 (+100), a young urban district with migrants.
_BAND_WEIGHTS = np.array(
    [
        3.9,
        5.4,
        5.6,
        5.0,
        6.6,
        8.2,
        9.6,
        8.2,
        7.2,
        7.3,
        7.6,
        6.6,
        5.0,
        4.8,
        3.6,
        2.4,
        1.5,
        0.8,
        0.3,
        0.1,
        0.02,
    ]
)
ELDERLY_SHARE = 0.128  # 65+ at the start of the history (ageing lifts it ~0.4 pp a year)


def age_distribution() -> np.ndarray:
    """Probability of each single year of age 0..100 with exactly 13.5 % aged 65+."""
    w = np.repeat(_BAND_WEIGHTS[:20] / 5.0, 5)
    w = np.append(w, _BAND_WEIGHTS[20])
    w = w / w.sum()
    old = AGES >= 65
    w[old] *= ELDERLY_SHARE / w[old].sum()
    w[~old] *= (1 - ELDERLY_SHARE) / w[~old].sum()
    return w


def male_share(age: np.ndarray) -> np.ndarray:
    """Share of males by age (sex ratio at birth 1.12, women outliving men)."""
    a = np.asarray(age, dtype=float)
    return np.clip(
        np.interp(a, [0, 20, 60, 75, 90, 100], [0.528, 0.52, 0.505, 0.47, 0.40, 0.33]), 0.3, 0.6
    )


def death_probability(age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Annual death probability at completed age (infant deaths are drawn at birth)."""
    a = np.asarray(age, dtype=float)
    gomp = 3.7e-5 * np.exp(0.09 * a) * np.where(sex == 1, 1.35, 0.72)
    q = np.select(
        [a < 1, a < 5, a < 15, a < 30],
        [0.0006, 0.0004, 0.00015, 0.0004],
        default=gomp,
    )
    return np.minimum(q, 0.6)


NEONATAL_DEATH = 0.0018  # death within 28 days of a live birth
POSTNEONATAL_DEATH = 0.0012  # death at 28-364 days
MATERNAL_DEATH = 1.0e-4  # per delivery, within 42 days after delivery
TWIN_RATE = 0.012
STILLBIRTH_RATE = 0.004
MISCARRIAGE_RATE = 0.04  # registered pregnancies ending without delivery


def move_out_probability(age: np.ndarray) -> np.ndarray:
    a = np.asarray(age)
    return np.select([a < 18, a < 45, a < 65], [0.008, 0.02, 0.008], default=0.004)


IN_MIGRATION_RATE = 0.011
_MIGRANT_AGE_BANDS = [(0, 18, 0.2), (20, 40, 0.6), (40, 60, 0.15), (60, 80, 0.05)]


def migrant_ages(rng: np.random.Generator, n: int) -> np.ndarray:
    probs = np.array([b[2] for b in _MIGRANT_AGE_BANDS])
    band = rng.choice(len(probs), n, p=probs / probs.sum())
    lo = np.array([b[0] for b in _MIGRANT_AGE_BANDS])[band]
    hi = np.array([b[1] for b in _MIGRANT_AGE_BANDS])[band]
    return lo + (rng.random(n) * (hi - lo)).astype(np.int64)


# Age-specific fertility shape (15-49) scaled to the crude birth rate.
_ASFR_AGES = [15, 20, 25, 28, 32, 36, 40, 45, 49]
_ASFR_SHAPE = [0.005, 0.04, 0.10, 0.12, 0.10, 0.05, 0.015, 0.003, 0.0]
CRUDE_BIRTH_RATE = 0.0078  # first simulated year, per resident; declines 3 % a year


def fertility(age: np.ndarray, year_index: int) -> np.ndarray:
    """Annual probability of a delivery for a woman of completed age ``age``."""
    a = np.asarray(age, dtype=float)
    shape = np.where((a >= 15) & (a <= 49), np.interp(a, _ASFR_AGES, _ASFR_SHAPE), 0.0)
    return shape * _fertility_scale() * 0.97**year_index


def _fertility_scale() -> float:
    dist = age_distribution()
    shape = np.where((AGES >= 15) & (AGES <= 49), np.interp(AGES, _ASFR_AGES, _ASFR_SHAPE), 0.0)
    per_capita = float((dist * (1 - male_share(AGES)) * shape).sum())
    return CRUDE_BIRTH_RATE / per_capita


# Chronic disease prevalence by age (shape), scaled to the adult (18+) targets.
_PREV_AGES = [18, 25, 35, 45, 55, 65, 75, 85, 100]
_HTN_SHAPE = [0.03, 0.06, 0.12, 0.25, 0.40, 0.53, 0.62, 0.66, 0.66]
_T2D_SHAPE = [0.015, 0.025, 0.05, 0.10, 0.16, 0.22, 0.24, 0.22, 0.20]
HTN_ADULT_PREVALENCE = 0.275
T2D_ADULT_PREVALENCE = 0.119
SMD_PREVALENCE = 0.0046  # of the whole population; ~93 % registered ⇒ ~4.3 ‰ detected


def _scaled(shape: list[float], target: float):
    dist = age_distribution()
    adult = AGES >= 18
    raw = np.interp(AGES, _PREV_AGES, shape)
    factor = target / float((dist[adult] * raw[adult]).sum() / dist[adult].sum())
    return np.where(adult, np.minimum(raw * factor, 0.95), 0.0)


HTN_BY_AGE = _scaled(_HTN_SHAPE, HTN_ADULT_PREVALENCE)
T2D_BY_AGE = _scaled(_T2D_SHAPE, T2D_ADULT_PREVALENCE)
_SMD_ADULT = SMD_PREVALENCE / float(age_distribution()[AGES >= 15].sum())
SMD_BY_AGE = np.where(AGES >= 15, _SMD_ADULT, 0.0)


def prevalence(table: np.ndarray, age: np.ndarray) -> np.ndarray:
    return table[np.clip(np.asarray(age), 0, MAX_AGE)]


def incidence(table: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Annual incidence keeping the age-specific prevalence stable."""
    a = np.clip(np.asarray(age), 0, MAX_AGE - 1)
    p0, p1 = table[a], table[a + 1]
    return np.clip((p1 - p0) / np.maximum(1 - p0, 1e-6), 0.0, 1.0)


SMD_DIAGNOSES = [
    "精神分裂症",
    "分裂情感性障碍",
    "偏执性精神病",
    "双相情感障碍",
    "癫痫所致精神障碍",
    "精神发育迟滞伴发精神障碍",
]
SMD_DIAGNOSIS_P = np.array([0.60, 0.06, 0.06, 0.10, 0.06, 0.12])

# Underlying causes of death (ICD-10, name, weight) by age group.
CAUSES: dict[str, list[tuple[str, str, float]]] = {
    "infant": [
        ("P07.3", "早产儿", 0.25),
        ("P21.9", "出生窒息", 0.15),
        ("Q24.9", "先天性心脏病", 0.20),
        ("P36.9", "新生儿败血症", 0.08),
        ("J18.9", "肺炎", 0.12),
        ("W84", "意外窒息", 0.08),
        ("Q89.9", "先天畸形", 0.12),
    ],
    "child": [
        ("W69", "溺水", 0.20),
        ("V89.2", "道路交通事故", 0.15),
        ("J18.9", "肺炎", 0.15),
        ("Q24.9", "先天性心脏病", 0.15),
        ("C91.0", "急性淋巴细胞白血病", 0.10),
        ("W19", "跌落", 0.10),
        ("A09", "感染性腹泻", 0.05),
        ("G40.9", "癫痫", 0.10),
    ],
    "young": [
        ("V89.2", "道路交通事故", 0.30),
        ("X70", "自杀", 0.10),
        ("W69", "溺水", 0.10),
        ("C91.0", "白血病", 0.10),
        ("I49.9", "心律失常", 0.05),
        ("C71.9", "脑肿瘤", 0.05),
        ("W19", "跌落", 0.05),
        ("X59", "意外伤害", 0.10),
        ("J18.9", "肺炎", 0.05),
        ("G93.9", "脑病", 0.05),
        ("R99", "死因不明", 0.05),
    ],
    "adult": [
        ("I21.9", "急性心肌梗死", 0.12),
        ("I63.9", "脑梗死", 0.12),
        ("I61.9", "脑出血", 0.08),
        ("I11.9", "高血压性心脏病", 0.03),
        ("I50.9", "心力衰竭", 0.02),
        ("C34.9", "肺癌", 0.10),
        ("C22.0", "肝癌", 0.07),
        ("C16.9", "胃癌", 0.05),
        ("C15.9", "食管癌", 0.04),
        ("C18.9", "结肠癌", 0.03),
        ("C25.9", "胰腺癌", 0.02),
        ("C53.9", "宫颈癌", 0.01),
        ("E11.9", "2型糖尿病", 0.03),
        ("E14.9", "糖尿病", 0.005),
        ("J44.9", "慢性阻塞性肺病", 0.04),
        ("J45.9", "哮喘", 0.005),
        ("V89.2", "道路交通事故", 0.05),
        ("X70", "自杀", 0.02),
        ("W19", "跌落", 0.02),
        ("K74.6", "肝硬化", 0.04),
        ("N18.9", "慢性肾衰竭", 0.02),
        ("A15.0", "肺结核", 0.01),
        ("J18.9", "肺炎", 0.03),
        ("R99", "死因不明", 0.02),
    ],
    "old": [
        ("I21.9", "急性心肌梗死", 0.13),
        ("I63.9", "脑梗死", 0.16),
        ("I61.9", "脑出血", 0.07),
        ("I11.9", "高血压性心脏病", 0.05),
        ("I50.9", "心力衰竭", 0.04),
        ("C34.9", "肺癌", 0.07),
        ("C22.0", "肝癌", 0.03),
        ("C16.9", "胃癌", 0.03),
        ("C15.9", "食管癌", 0.03),
        ("C18.9", "结肠癌", 0.02),
        ("E11.9", "2型糖尿病", 0.04),
        ("J44.9", "慢性阻塞性肺病", 0.10),
        ("J18.9", "肺炎", 0.06),
        ("W19", "跌落", 0.03),
        ("R54", "衰老", 0.06),
        ("N18.9", "慢性肾衰竭", 0.02),
        ("K74.6", "肝硬化", 0.02),
        ("G30.9", "阿尔茨海默病", 0.04),
    ],
}
MATERNAL_CAUSES = [
    ("O72.1", "产后出血", 0.4),
    ("O14.1", "重度子痫前期", 0.25),
    ("O88.1", "羊水栓塞", 0.2),
    ("O99.4", "妊娠合并心脏病", 0.15),
]


def cause_group(age_days: np.ndarray) -> np.ndarray:
    years = np.asarray(age_days) / 365.25
    return np.select(
        [years < 1, years < 5, years < 30, years < 70],
        ["infant", "child", "young", "adult"],
        default="old",
    )
