"""Family-doctor contracts (one-year contracts, mostly signed in the first months)."""

from __future__ import annotations

import numpy as np

from phwarehouse.platform.context import CONTRACT_MONTH_WEIGHTS
from phwarehouse.platform.dates import age_years, sample_days_in_months, sample_months, year_start
from phwarehouse.platform.records import Batch, updated_at


def family_doctor_contracts(sim, year: int) -> None:
    p = sim.p
    rng = sim.rng("contracts", year)
    ys, ye = year_start(year), year_start(year + 1)
    n = sim.n
    age = age_years(p["birth"], ys)
    key = (age >= 65) | (age <= 6)
    for d in ("htn", "t2d", "smd"):
        key |= p[f"{d}_enrol"] < ys
    key |= (p["preg_lmp"] < ys) & (p["preg_end"] >= ys)
    q = sim.ctx.quality[p["town"]]
    prob = np.where(key, 0.70 + 0.25 * q, 0.22 + 0.2 * q)
    start = sample_days_in_months(rng, year, sample_months(rng, n, CONTRACT_MONTH_WEIGHTS))
    start = np.maximum(start, np.maximum(p["ehr_created"], p["birth"]) + 1)
    ok = p["has_ehr"] & (p["u_fd"] < prob) & (start < ye) & (start < p["exit"])
    idx = np.flatnonzero(ok)
    day = start[idx]
    k = len(idx)
    pid, idn = sim.person_refs(rng, idx, day)
    rid, num = sim.rids("family_doctor_contracts", k)
    team = sim.ctx.team_names[p["town"][idx], rng.integers(0, 4, k)]
    sim.emit(
        Batch.build(
            "family_doctor_contracts",
            rid,
            num,
            updated_at(rng, day),
            person_record_id=pid,
            id_number=idn,
            facility_code=sim.facility_of(idx),
            team_name=team,
            service_package=np.where(rng.random(k) < 0.8, "基础包", "个性化包").astype(object),
            start_date=day,
            end_date=day + 364,
        ),
        (year, 300),
    )
