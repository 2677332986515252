"""Hypertension, type 2 diabetes and severe-mental-disorder follow-ups (quarterly)."""

from __future__ import annotations

import numpy as np

from phwarehouse.platform.context import SERVICE_MONTH_WEIGHTS
from phwarehouse.platform.dates import NO_DAY, month_table, year_start
from phwarehouse.platform.records import Batch, updated_at

ADHERENCE = np.array(["规律", "间断", "不服药"], dtype=object)
STABILITY = np.array(["稳定", "基本稳定", "不稳定"], dtype=object)


def quarterly_contacts(sim, rng, idx: np.ndarray, year: int, compliance: np.ndarray, disease: str):
    """Follow-up contacts of patients ``idx`` in ``year``: (patient index, day, face_to_face)."""
    p = sim.p
    first, length = month_table(year)
    w = SERVICE_MONTH_WEIGHTS
    n = len(idx)
    compliant = p[f"u_{disease}_comp"][idx] < compliance
    pats, days, f2f = [], [], []
    for quarter in range(4):
        u = rng.random(n)
        face = np.where(compliant, u < 0.96, u < 0.45)
        phone = ~face & np.where(compliant, u < 0.98, u < 0.70)
        months = quarter * 3 + rng.choice(
            3, n, p=w[quarter * 3 : quarter * 3 + 3] / w[quarter * 3 : quarter * 3 + 3].sum()
        )
        day = first[months] + (rng.random(n) * length[months]).astype(np.int64)
        ok = (face | phone) & (day >= p[f"{disease}_enrol"][idx]) & (day < p["exit"][idx])
        pats.append(idx[ok])
        days.append(day[ok])
        f2f.append(face[ok])
    return np.concatenate(pats), np.concatenate(days), np.concatenate(f2f)


def _patients(sim, year: int, disease: str) -> np.ndarray:
    p = sim.p
    ys, ye = year_start(year), year_start(year + 1)
    return np.flatnonzero((p[f"{disease}_enrol"] < ye) & (p["exit"] > ys) & p["has_ehr"])


def _mode(f2f: np.ndarray) -> np.ndarray:
    return np.where(f2f, "face_to_face", "telephone").astype(object)


def bp(rng, controlled: np.ndarray, f2f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(controlled)
    sbp = np.where(controlled, np.clip(rng.normal(127, 8, n), 100, 139), rng.normal(151, 12, n))
    dbp = np.where(controlled, np.clip(rng.normal(79, 6, n), 60, 89), rng.normal(93, 8, n))
    dbp = np.minimum(dbp, sbp - 20)
    reported = f2f | (rng.random(n) < 0.3)  # telephone: sometimes a self-measured reading
    return np.where(reported, np.round(sbp), np.nan), np.where(reported, np.round(dbp), np.nan)


def htn_followups(sim, year: int) -> None:
    rng = sim.rng("htn", year)
    idx = _patients(sim, year, "htn")
    pat, day, f2f = quarterly_contacts(sim, rng, idx, year, 0.55 + 0.35 * sim.q(idx), "htn")
    k = len(pat)
    ctrl = sim.p["u_htn_ctrl"][pat] < 0.50 + 0.15 * sim.q(pat)
    sbp, dbp = bp(rng, ctrl, f2f)
    pid, idn = sim.person_refs(rng, pat, day)
    rid, num = sim.rids("htn_followups", k)
    sim.emit(
        Batch.build(
            "htn_followups",
            rid,
            num,
            updated_at(rng, day),
            person_record_id=pid,
            id_number=idn,
            facility_code=sim.provider(rng, pat, day, 0.5),
            followup_date=day,
            followup_mode=_mode(f2f),
            sbp=sbp,
            dbp=dbp,
            heart_rate=np.where(f2f, np.round(rng.normal(76, 8, k)), np.nan),
            weight_kg=np.where(f2f, np.round(rng.normal(68, 10, k), 1), np.nan),
            medication_adherence=ADHERENCE[rng.choice(3, k, p=[0.78, 0.17, 0.05])],
            next_followup_date=day + 90,
            doctor_name=sim.doctor(rng, pat),
        ),
        (year, 200),
    )


def t2d_followups(sim, year: int) -> None:
    rng = sim.rng("t2d", year)
    idx = _patients(sim, year, "t2d")
    pat, day, f2f = quarterly_contacts(sim, rng, idx, year, 0.55 + 0.35 * sim.q(idx), "t2d")
    k = len(pat)
    ctrl = sim.p["u_t2d_ctrl"][pat] < 0.45 + 0.15 * sim.q(pat)
    fbg = np.where(
        ctrl,
        np.clip(rng.normal(6.1, 0.45, k), 4.2, 6.9),
        np.clip(rng.normal(8.6, 1.5, k), 7.0, 22.0),
    )
    measured = f2f | (rng.random(k) < 0.2)
    sbp, dbp = bp(rng, rng.random(k) < 0.55, f2f)
    pid, idn = sim.person_refs(rng, pat, day)
    rid, num = sim.rids("t2d_followups", k)
    sim.emit(
        Batch.build(
            "t2d_followups",
            rid,
            num,
            updated_at(rng, day),
            person_record_id=pid,
            id_number=idn,
            facility_code=sim.provider(rng, pat, day, 0.5),
            followup_date=day,
            followup_mode=_mode(f2f),
            fasting_glucose_mmol_l=np.where(measured, np.round(fbg, 1), np.nan),
            sbp=sbp,
            dbp=dbp,
            weight_kg=np.where(f2f, np.round(rng.normal(70, 11, k), 1), np.nan),
            medication_adherence=ADHERENCE[rng.choice(3, k, p=[0.75, 0.2, 0.05])],
            next_followup_date=day + 90,
            doctor_name=sim.doctor(rng, pat),
        ),
        (year, 201),
    )


def smd_followups(sim, year: int) -> None:
    rng = sim.rng("smd", year)
    idx = _patients(sim, year, "smd")
    pat, day, f2f = quarterly_contacts(sim, rng, idx, year, 0.72 + 0.25 * sim.q(idx), "smd")
    k = len(pat)
    stable_person = sim.p["u_smd_stable"][pat] < 0.78
    u = rng.random(k)
    stab = np.where(
        stable_person, np.where(u < 0.93, 0, 1), np.where(u < 0.3, 0, np.where(u < 0.75, 1, 2))
    )
    danger = np.where(
        stab == 2,
        rng.choice(6, k, p=[0.3, 0.3, 0.2, 0.12, 0.05, 0.03]),
        rng.choice(6, k, p=[0.88, 0.09, 0.03, 0.0, 0.0, 0.0]),
    )
    assessed = rng.random(k) < 0.97
    pid, idn = sim.person_refs(rng, pat, day)
    rid, num = sim.rids("smd_followups", k)
    sim.emit(
        Batch.build(
            "smd_followups",
            rid,
            num,
            updated_at(rng, day),
            person_record_id=pid,
            id_number=idn,
            facility_code=sim.provider(rng, pat, day, 0.2),
            followup_date=day,
            followup_mode=_mode(f2f),
            danger_level=np.where(assessed, danger, np.nan),
            stability=STABILITY[stab],
            medication_adherence=ADHERENCE[rng.choice(3, k, p=[0.7, 0.22, 0.08])],
            doctor_name=sim.doctor(rng, pat),
        ),
        (year, 202),
    )


def after_death_followups(sim) -> None:
    """Dirty: follow-ups recorded after the patient's death (a share of deceased patients)."""
    p = sim.p
    rate = sim.ctx.dirty.service_after_death
    if not rate:
        return
    rng = sim.rng("after_death")
    dead = (p["exit_reason"] == 1) & (p["htn_enrol"] < p["exit"]) & p["has_ehr"]
    pick = dead & (rng.random(sim.n) < rate)
    idx = np.flatnonzero(pick)
    day = p["exit"][idx] + rng.integers(5, 61, len(idx))
    upd = updated_at(rng, day)
    keep = upd <= sim.ctx.cutoff
    idx, day, upd = idx[keep], day[keep], upd[keep]
    k = len(idx)
    sim.person_dirty["service_after_death"] += k
    pid, idn = sim.person_refs(rng, idx, np.full(k, NO_DAY))
    rid, num = sim.rids("htn_followups", k)
    sim.writer.write(
        Batch.build(
            "htn_followups",
            rid,
            num,
            upd,
            person_record_id=pid,
            id_number=idn,
            facility_code=sim.facility_of(idx),
            followup_date=day,
            followup_mode=np.full(k, "face_to_face", dtype=object),
            sbp=np.round(rng.normal(135, 10, k)),
            dbp=np.round(rng.normal(84, 6, k)),
            medication_adherence=np.full(k, "规律", dtype=object),
            next_followup_date=day + 90,
            doctor_name=sim.doctor(rng, idx),
        )
    )
