"""Pregnancies, prenatal exams, deliveries, postpartum visits/42-day checks and the births they
produce (newborns get their own EHRs)."""

from __future__ import annotations

import numpy as np

from phwarehouse.platform import demography as demo
from phwarehouse.platform.dates import NO_DAY, age_years, year_start
from phwarehouse.platform.records import Batch, updated_at

INSTITUTIONS = np.array(
    [
        "郑州大学第三附属医院",
        "郑州市妇幼保健院",
        "惠济区人民医院",
        "河南省人民医院",
        "郑州市第一人民医院",
        "郑州市中心医院",
    ],
    dtype=object,
)
PRENATAL_COUNTS = np.array([3, 4, 5, 6, 7, 8])
PRENATAL_COUNT_P = np.array([0.05, 0.08, 0.30, 0.30, 0.17, 0.10])


def births(sim, year: int, extra: bool = False) -> None:
    """Deliveries in ``year``. With ``extra`` (the year after the as-of year) only the
    pregnancy registrations and prenatal exams made so far are produced."""
    p = sim.p
    rng = sim.rng("pregnancy_extra" if extra else "births", year)
    ys, ye = year_start(year), year_start(year + 1)
    n = sim.n
    age = age_years(p["birth"], ys)
    women = (p["sex"] == 2) & (p["entry"] < ys) & (p["exit"] >= ys) & (age >= 15) & (age <= 49)
    women &= p["last_delivery"] < ys - 456
    chosen = women & (rng.random(n) < demo.fertility(age, year - sim.ctx.start_year))
    m = np.flatnonzero(chosen)
    k = len(m)
    delivery = ys + (rng.random(k) * (ye - ys)).astype(np.int64)
    preterm = rng.random(k) < 0.06
    gest_days = np.where(preterm, rng.integers(196, 259, k), rng.integers(259, 294, k))
    lmp = delivery - gest_days
    q = sim.q(m)
    early = rng.random(k) < 0.78 + 0.2 * q
    reg_gd = np.where(early, rng.integers(42, 91, k), rng.integers(91, 197, k))
    registered = (rng.random(k) < 0.97) & p["has_ehr"][m]
    reg_day = lmp + reg_gd
    exit_ = p["exit"][m]
    registered &= reg_day < exit_
    cancelled = exit_ <= delivery
    if not extra:
        p["last_delivery"][m[~cancelled]] = delivery[~cancelled]
        p["preg_lmp"][m] = lmp
        p["preg_end"][m] = np.where(cancelled, exit_, delivery)
    mrng = sim.rng("maternal", year, 1 if extra else 0)
    # -------- pregnancies (v1 at registration, v2 when closed)
    r = np.flatnonzero(registered)
    preg_rid, preg_num = sim.rids("pregnancies", len(r))
    mi = m[r]
    pid, idn = sim.person_refs(mrng, mi, reg_day[r])
    fac = sim.facility_of(mi)
    gravidity = 1 + mrng.poisson(0.9, len(r))
    parity = np.minimum(mrng.poisson(0.5, len(r)), gravidity - 1)
    common = dict(
        person_record_id=pid,
        id_number=idn,
        facility_code=fac,
        lmp=np.where(mrng.random(len(r)) < 0.96, lmp[r], NO_DAY),
        registered_on=reg_day[r],
        gestational_week_at_registration=reg_gd[r] // 7,
        expected_delivery_date=lmp[r] + 280,
        gravidity=gravidity,
        parity=parity,
    )
    sim.emit(
        Batch.build("pregnancies", preg_rid, preg_num, updated_at(mrng, reg_day[r]), **common),
        (year, 100 + extra),
    )
    if not extra:
        closed = np.where(cancelled[r], exit_[r], delivery[r] + mrng.integers(42, 70, len(r)))
        reason = np.where(cancelled[r], np.where(p["exit_reason"][mi] == 1, "死亡", "迁出"), "分娩")
        sim.emit(
            Batch.build(
                "pregnancies",
                preg_rid,
                preg_num,
                updated_at(mrng, closed),
                version=2,
                closed_on=closed,
                close_reason=reason.astype(object),
                **common,
            ),
            (year, 101),
        )
    # -------- prenatal exams
    counts = mrng.choice(PRENATAL_COUNTS, len(r), p=PRENATAL_COUNT_P)
    rows = np.repeat(np.arange(len(r)), counts)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    order = np.arange(len(rows)) - np.repeat(first, counts)
    lo = reg_gd[r][rows] + 14
    hi = np.maximum(gest_days[r][rows] - 1, lo + 1)
    gd = np.where(
        order == 0, reg_gd[r][rows], lo + (mrng.random(len(rows)) * (hi - lo)).astype(np.int64)
    )
    # sort each pregnancy's later exams by gestational day
    key = rows * 1000 + np.where(order == 0, -1, gd)
    srt = np.argsort(key, kind="stable")
    rows, gd = rows[srt], gd[srt]
    exam_day = lmp[r][rows] + gd
    ok = (exam_day < exit_[r][rows]) & (exam_day < delivery[r][rows])
    rows, gd, exam_day = rows[ok], gd[ok], exam_day[ok]
    number = np.ones(len(rows), dtype=np.int64)
    if len(rows):
        starts = np.r_[True, rows[1:] != rows[:-1]]
        grp = np.cumsum(starts) - 1
        number = np.arange(len(rows)) - np.flatnonzero(starts)[grp] + 1
    ei = mi[rows]
    pid, idn = sim.person_refs(mrng, ei, exam_day)
    rid, num = sim.rids("prenatal_exams", len(rows))
    sim.emit(
        Batch.build(
            "prenatal_exams",
            rid,
            num,
            updated_at(mrng, exam_day),
            person_record_id=pid,
            id_number=idn,
            pregnancy_record_id=preg_rid[rows],
            exam_date=exam_day,
            facility_code=sim.provider(mrng, ei, exam_day, 0.0),
            exam_number=number,
            gestational_week=gd // 7,
            sbp=np.round(mrng.normal(114, 10, len(rows))),
            dbp=np.round(mrng.normal(72, 7, len(rows))),
            weight_kg=np.round(mrng.normal(62, 8, len(rows)) + gd / 28.0, 1),
            hemoglobin_g_l=np.round(mrng.normal(118, 10, len(rows))),
        ),
        (year, 110 + extra),
    )
    if extra:
        return
    _deliveries(
        sim, year, mrng, m, delivery, gest_days, preterm, cancelled, registered, preg_rid, r
    )


def _deliveries(
    sim, year, rng, m, delivery, gest_days, preterm, cancelled, registered, preg_rid, r
) -> None:
    p = sim.p
    d = np.flatnonzero(~cancelled)
    mi = m[d]
    k = len(d)
    preg_of = np.full(len(m), None, dtype=object)
    preg_of[r] = preg_rid
    u = rng.random(k)
    live = np.where(
        u < demo.STILLBIRTH_RATE, 0, np.where(u < demo.STILLBIRTH_RATE + demo.TWIN_RATE, 2, 1)
    )
    cs = rng.random(k) < 0.38
    dday = delivery[d]
    discharge = dday + np.where(cs, rng.integers(4, 8, k), rng.integers(1, 4, k))
    discharge_out = np.where(rng.random(k) < 0.95, discharge, NO_DAY)
    maternal = rng.random(k) < demo.MATERNAL_DEATH
    if maternal.any():
        mm = mi[maternal]
        death = dday[maternal] + rng.integers(0, 43, len(mm))
        earlier = death < p["exit"][mm]
        p["exit"][mm[earlier]] = death[earlier]
        p["exit_reason"][mm[earlier]] = 1
        p["maternal_death"][mm[earlier]] = True
    sim.truth[f"live_births_{year}"] += int(live.sum())
    sim.truth[f"deliveries_{year}"] += k
    # platform records exist only for mothers with an EHR; every live birth adds a resident
    mode = np.where(cs, "剖宫产", np.where(rng.random(k) < 0.03, "助产", "顺产")).astype(object)
    inst = INSTITUTIONS[rng.integers(0, len(INSTITUTIONS), k)]
    e = np.flatnonzero(p["has_ehr"][mi])
    pid, idn = sim.person_refs(rng, mi[e], dday[e])
    rid_e, num = sim.rids("deliveries", len(e))
    rid = np.full(k, None, dtype=object)
    rid[e] = rid_e
    sim.emit(
        Batch.build(
            "deliveries", rid_e, num, updated_at(rng, discharge[e], 7), person_record_id=pid,
            id_number=idn, pregnancy_record_id=preg_of[d][e], delivery_date=dday[e],
            delivery_institution=inst[e], delivery_mode=mode[e],
            gestational_week=gest_days[d][e] // 7,
            outcome=np.where(live[e] > 0, "活产", "死产").astype(object), live_births=live[e],
            discharge_date=discharge_out[e],
        ),
        (year, 120),
    )  # fmt: skip
    q = sim.q(mi)
    base = np.where(discharge_out < NO_DAY, discharge_out, dday)
    visited = (rng.random(k) < 0.80 + 0.18 * q) & p["has_ehr"][mi]
    late = rng.random(k) < 0.08
    vday = base + np.where(late, rng.integers(29, 46, k), rng.integers(2, 11, k))
    ok = visited & (vday < p["exit"][mi])
    j = np.flatnonzero(ok)
    pid, idn = sim.person_refs(rng, mi[j], vday[j])
    vr, vn = sim.rids("postpartum_visits", len(j))
    sim.emit(
        Batch.build(
            "postpartum_visits",
            vr,
            vn,
            updated_at(rng, vday[j]),
            person_record_id=pid,
            id_number=idn,
            delivery_record_id=rid[j],
            facility_code=sim.provider(rng, mi[j], vday[j], 0.3),
            visit_date=vday[j],
            sbp=np.round(rng.normal(115, 10, len(j))),
            dbp=np.round(rng.normal(74, 7, len(j))),
            breastfeeding=rng.choice(
                np.array(["纯母乳", "混合", "人工"], dtype=object), len(j), p=[0.6, 0.32, 0.08]
            ),
        ),
        (year, 121),
    )
    cday = dday + rng.integers(42, 57, k)
    ok = (rng.random(k) < 0.75 + 0.2 * q) & (cday < p["exit"][mi]) & p["has_ehr"][mi]
    j = np.flatnonzero(ok)
    pid, idn = sim.person_refs(rng, mi[j], cday[j])
    cr, cn = sim.rids("postpartum_42d_checks", len(j))
    sim.emit(
        Batch.build(
            "postpartum_42d_checks",
            cr,
            cn,
            updated_at(rng, cday[j]),
            person_record_id=pid,
            id_number=idn,
            delivery_record_id=rid[j],
            facility_code=sim.facility_of(mi[j]),
            check_date=cday[j],
            recovered=rng.random(len(j)) < 0.95,
        ),
        (year, 122),
    )
    _newborns(sim, year, rng, mi, dday, live, gest_days[d], preterm[d])


def _newborns(sim, year, rng, mothers, dday, live, gest_days, preterm) -> None:
    p = sim.p
    rep = np.repeat(np.arange(len(mothers)), live)
    k = len(rep)
    if not k:
        sim.new_births = np.zeros(0, dtype=np.int64)
        return
    mo = mothers[rep]
    birth = dday[rep]
    sex = np.where(rng.random(k) < 0.528, 1, 2)
    q = sim.q(mo)
    has_ehr = rng.random(k) < 0.90 + 0.08 * q
    created = birth + rng.integers(0, 21, k)
    u = rng.random(k)
    death_age = np.where(
        u < demo.NEONATAL_DEATH,
        rng.integers(0, 28, k),
        np.where(u < demo.NEONATAL_DEATH + demo.POSTNEONATAL_DEATH, rng.integers(28, 365, k), -1),
    )
    dies = death_age >= 0
    has_ehr |= dies  # deaths are registered on an EHR (created at birth if needed)
    created = np.where(dies, birth + np.minimum(created - birth, death_age), created)
    idx = sim.add_persons(
        rng, birth, sex, p["town"][mo], birth, p["local"][mo], has_ehr, created, mother=mo
    )
    p["exit"][idx[dies]] = birth[dies] + death_age[dies]
    p["exit_reason"][idx[dies]] = 1
    # newborn home visits
    weight = np.where(preterm[rep], rng.normal(2300, 500, k), rng.normal(3300, 420, k))
    weight = np.clip(weight - np.where(live[rep] == 2, 450, 0), 500, 5500)
    visited = has_ehr & (rng.random(k) < 0.80 + 0.18 * q)
    late = rng.random(k) < 0.08
    vday = birth + np.where(late, rng.integers(29, 41, k), rng.integers(3, 9, k))
    ok = visited & (vday < p["exit"][idx])
    j = np.flatnonzero(ok)
    ci = idx[j]
    pid, idn = sim.person_refs(rng, ci, vday[j])
    mpid, midn = sim.person_refs(rng, mo[j], vday[j])
    mpid = np.where(p["has_ehr"][mo[j]], mpid, None)
    rid, num = sim.rids("newborn_visits", len(j))
    sim.emit(
        Batch.build(
            "newborn_visits",
            rid,
            num,
            updated_at(rng, vday[j]),
            person_record_id=pid,
            id_number=idn,
            mother_person_record_id=mpid,
            mother_id_number=midn,
            facility_code=sim.provider(rng, ci, vday[j], 0.2),
            visit_date=vday[j],
            birth_date=birth[j],
            birth_weight_g=np.round(weight[j] / 10) * 10,
            gestational_week_at_birth=gest_days[rep][j] // 7,
            doctor_name=sim.doctor(rng, ci),
        ),
        (year, 130),
    )
    sim.new_births = idx
