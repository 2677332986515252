"""End-of-run person-level records: health records (with duplicates and closures), chronic
disease registries and death registrations."""

from __future__ import annotations

import numpy as np

from phwarehouse.platform import demography as demo
from phwarehouse.platform.dates import NO_DAY
from phwarehouse.platform.records import Batch, updated_at

CLOSE_REASON = {1: "死亡", 2: "迁出"}
SEX_CODES = np.array(["0", "1", "2", "9"], dtype=object)


def residents(sim) -> None:
    p = sim.p
    rng = sim.rng("residents")
    n = sim.n
    lags = rng.integers(0, 31, n)
    has = p["has_ehr"] & (p["ehr_created"] < p["exit"])
    sim.truth["ehr_persons"] = int(has.sum())
    closed = np.where(p["exit"] < NO_DAY, p["exit"] + lags, NO_DAY)
    reason = np.array([CLOSE_REASON.get(int(r)) for r in p["exit_reason"]], dtype=object)
    dup = has & p["has_dup"] & (p["dup_created"] < p["exit"])
    residency = np.where(p["local"], "户籍", "非户籍").astype(object)
    sex = SEX_CODES[p["sex"]]
    doctor = sim.doctor(rng, np.arange(n))
    for copy in ("original", "duplicate"):
        idx = np.flatnonzero(has if copy == "original" else dup)
        rid = p["ehr_rid"][idx] if copy == "original" else p["dup_rid"][idx]
        num = np.array([int(r[3:7]) * 10**8 + int(r[7:]) for r in rid], dtype=np.int64)
        created = p["ehr_created"][idx] if copy == "original" else p["dup_created"][idx]
        town = p["town"][idx] if copy == "original" else p["dup_town"][idx]
        ids = p["id_number"][idx] if copy == "original" else p["dup_id"][idx]
        common = dict(
            id_number=ids,
            name=p["name"][idx],
            sex_code=sex[idx],
            birth_date=p["birth"][idx],
            phone=p["phone"][idx],
            residency_type=residency[idx],
            township_code=sim.ctx.township_codes[p["town"][idx]],
            managing_facility_code=sim.ctx.facility_codes[town],
            responsible_doctor=doctor[idx],
            ehr_created_on=created,
        )
        key = 0 if copy == "original" else 2
        sim.emit(
            Batch.build("residents", rid, num, updated_at(rng, created, 2), **common),
            (0, 600 + key),
        )
        c = np.flatnonzero(closed[idx] < NO_DAY)
        sim.emit(
            Batch.build(
                "residents",
                rid[c],
                num[c],
                updated_at(rng, closed[idx][c], 1),
                version=2,
                ehr_closed_on=closed[idx][c],
                close_reason=reason[idx][c],
                **{k: v[c] for k, v in common.items()},
            ),
            (0, 601 + key),
        )
        if copy == "original":
            counted = has & (p["ehr_created"] * 86400 <= sim.ctx.cutoff)
            sim.person_dirty["invalid_id_check"] += int((counted & p["id_invalid"]).sum())
            sim.person_dirty["id_inconsistent"] += int((counted & p["id_inconsistent"]).sum())
        else:
            sim.person_dirty["duplicate_ehr"] += int(
                (dup & (p["dup_created"] * 86400 <= sim.ctx.cutoff)).sum()
            )


def registries(sim) -> None:
    p = sim.p
    rng = sim.rng("registries")
    for disease, entity, key in (
        ("htn", "htn_registry", 700),
        ("t2d", "t2d_registry", 710),
        ("smd", "smd_registry", 720),
    ):
        enrol = p[f"{disease}_enrol"]
        idx = np.flatnonzero(p["has_ehr"] & (enrol < p["exit"]))
        k = len(idx)
        day = enrol[idx]
        pid, idn = sim.person_refs(rng, idx, day)
        rid, num = sim.rids(entity, k)
        extra = {}
        if disease == "smd":
            extra = dict(
                diagnosis=np.array(demo.SMD_DIAGNOSES, dtype=object)[p["smd_diag"][idx]],
                living_at_home=p["smd_home"][idx],
            )
        dx = p[f"{disease}_dx"][idx]
        common = dict(
            person_record_id=pid,
            id_number=idn,
            facility_code=sim.facility_of(idx),
            diagnosed_on=np.where(rng.random(k) < 0.9, dx, NO_DAY),
            enrolled_on=day,
            **extra,
        )
        sim.emit(Batch.build(entity, rid, num, updated_at(rng, day, 5), **common), (0, key))
        ex = p["exit"][idx]
        w = np.flatnonzero(ex < NO_DAY)
        wd = ex[w] + rng.integers(0, 45, len(w))
        reason = np.array(
            [{1: "死亡", 2: "迁出"}[int(r)] for r in p["exit_reason"][idx][w]], dtype=object
        )
        sim.emit(
            Batch.build(
                entity,
                rid[w],
                num[w],
                updated_at(rng, wd, 2),
                version=2,
                withdrawn_on=wd,
                withdraw_reason=reason,
                **{k2: v[w] for k2, v in common.items()},
            ),
            (0, key + 1),
        )


def deaths(sim) -> None:
    p = sim.p
    rng = sim.rng("deaths")
    idx = np.flatnonzero((p["exit_reason"] == 1) & p["has_ehr"] & (p["ehr_created"] <= p["exit"]))
    k = len(idx)
    day = p["exit"][idx]
    groups = demo.cause_group(day - p["birth"][idx])
    codes = np.empty(k, dtype=object)
    names = np.empty(k, dtype=object)
    for g, table in demo.CAUSES.items():
        rows = np.flatnonzero(groups == g)
        w = np.array([t[2] for t in table])
        pick = rng.choice(len(table), len(rows), p=w / w.sum())
        codes[rows] = [table[i][0] for i in pick]
        names[rows] = [table[i][1] for i in pick]
    maternal = p["maternal_death"][idx]
    mrows = np.flatnonzero(maternal)
    w = np.array([t[2] for t in demo.MATERNAL_CAUSES])
    pick = rng.choice(len(w), len(mrows), p=w / w.sum())
    codes[mrows] = [demo.MATERNAL_CAUSES[i][0] for i in pick]
    names[mrows] = [demo.MATERNAL_CAUSES[i][1] for i in pick]
    preg = (p["preg_lmp"][idx] <= day) & (day <= p["preg_end"][idx] + 42)
    reported = day + rng.integers(1, 31, k)
    pid, idn = sim.person_refs(rng, idx, np.full(k, NO_DAY))
    rid, num = sim.rids("deaths", k)
    sim.emit(
        Batch.build(
            "deaths",
            rid,
            num,
            updated_at(rng, reported, 1),
            person_record_id=pid,
            id_number=idn,
            death_date=day,
            underlying_cause_icd10=codes,
            underlying_cause_name=names,
            place_of_death=rng.choice(
                np.array(["医院", "家中", "其他"], dtype=object), k, p=[0.45, 0.5, 0.05]
            ),
            pregnancy_related=preg,
            reported_on=reported,
        ),
        (0, 800),
    )
