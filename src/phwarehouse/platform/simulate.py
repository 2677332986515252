"""Chunk simulator: a group of households simulated year by year.

Each chunk owns its persons (mothers and their newborns stay in the same chunk) and draws from
random streams keyed by (seed, chunk, stream, year), so a chunk's history up to a year does not
depend on later years or on how many worker processes run.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from phwarehouse.platform import demography as demo
from phwarehouse.platform.context import SimContext
from phwarehouse.platform.dates import NO_DAY, age_years, year_start
from phwarehouse.platform.dirty import apply_dirty
from phwarehouse.platform.ids import corrupt_check_digit, make_id_numbers, make_names, make_phones
from phwarehouse.platform.records import SEQ_SPAN, Batch, rid_strings
from phwarehouse.platform.writer import ChunkWriter

STREAMS = {
    "init": 1,
    "exit": 2,
    "migrate": 3,
    "incidence": 4,
    "births": 5,
    "contracts": 6,
    "htn": 7,
    "t2d": 8,
    "smd": 9,
    "exams": 10,
    "maternal": 11,
    "child": 12,
    "vax": 13,
    "residents": 14,
    "registries": 15,
    "deaths": 16,
    "after_death": 17,
    "dirty": 18,
    "persons": 19,
    "pregnancy_extra": 20,
}
PROPENSITIES = (
    "fd",
    "exam",
    "htn_comp",
    "htn_ctrl",
    "t2d_comp",
    "t2d_ctrl",
    "smd_comp",
    "smd_stable",
    "vax",
    "child",
    "dup_share",
)
EHR_START_DAY = year_start(2010)


class ChunkSim:
    """Persons of one chunk as parallel numpy arrays in ``self.p``."""

    def __init__(self, ctx: SimContext, chunk: int, size: int, writer: ChunkWriter) -> None:
        self.ctx = ctx
        self.chunk = chunk
        self.size = size
        self.writer = writer
        self.p: dict[str, np.ndarray] = {}
        self.seq: Counter = Counter()
        self.dirty_counts: dict[str, Counter] = defaultdict(Counter)
        self.person_dirty: Counter = Counter()
        self.truth: Counter = Counter()
        self.new_births: np.ndarray = np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------------ plumbing
    def rng(self, stream: str, year: int = 0, sub: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.ctx.seed, self.chunk, STREAMS[stream], year, sub])

    def rids(self, entity: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        start = self.seq[entity]
        self.seq[entity] += n
        seq = np.arange(start, start + n, dtype=np.int64)
        return rid_strings(entity, self.chunk, seq), self.chunk * SEQ_SPAN + seq

    def emit(self, batch: Batch, rng_key: tuple[int, int]) -> None:
        """Inject dirty data, drop what the platform has not seen by the cut-off, write."""
        cfg = self.ctx.dirty
        counts = self.dirty_counts[batch.entity]
        rng = np.random.default_rng([self.ctx.seed, self.chunk, STREAMS["dirty"], *rng_key])
        batch = apply_dirty(batch, rng, cfg, self.ctx.cutoff, counts)
        self.writer.write(batch)

    @property
    def n(self) -> int:
        return len(self.p["birth"]) if self.p else 0

    def facility_of(self, idx: np.ndarray) -> np.ndarray:
        return self.ctx.facility_codes[self.p["town"][idx]]

    def provider(
        self, rng: np.random.Generator, idx: np.ndarray, day: np.ndarray, station_share: float
    ) -> np.ndarray:
        """Facility code that delivered a service: a station under the managing facility (if
        open that day) or the facility itself."""
        ctx = self.ctx
        town = self.p["town"][idx]
        out = ctx.facility_codes[town].copy()
        cnt = ctx.station_count[town]
        use = (rng.random(len(idx)) < station_share) & (cnt > 0)
        k = (rng.random(len(idx)) * np.maximum(cnt, 1)).astype(np.int64)
        st = ctx.station_offset[town] + k
        st = np.minimum(st, max(len(ctx.station_codes) - 1, 0))
        if len(ctx.station_codes):
            is_open = (ctx.station_open[st] <= day) & (ctx.station_close[st] > day)
            use &= is_open
            out[use] = ctx.station_codes[st[use]]
        return out

    def doctor(self, rng: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        return self.ctx.doctors[self.p["town"][idx], rng.integers(0, 8, len(idx))]

    def person_refs(
        self, rng: np.random.Generator, idx: np.ndarray, day: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """EHR record ids and ID numbers for services; with a duplicate EHR, services attach to
        either copy (the copy must exist at the service date)."""
        p = self.p
        use_dup = p["has_dup"][idx] & (p["dup_created"][idx] <= day) & (rng.random(len(idx)) < 0.35)
        rid = np.where(use_dup, p["dup_rid"][idx], p["ehr_rid"][idx])
        idn = np.where(use_dup, p["dup_id"][idx], p["id_number"][idx])
        return rid, idn

    def q(self, idx: np.ndarray) -> np.ndarray:
        """Facility performance of each person's managing facility."""
        return self.ctx.quality[self.p["town"][idx]]

    # ------------------------------------------------------------------ persons
    def add_persons(
        self,
        rng: np.random.Generator,
        birth: np.ndarray,
        sex: np.ndarray,
        town: np.ndarray,
        entry: np.ndarray,
        local: np.ndarray,
        has_ehr: np.ndarray,
        ehr_created: np.ndarray,
        mother: np.ndarray | None = None,
    ) -> np.ndarray:
        """Append persons; returns their indexes."""
        k = len(birth)
        cfg = self.ctx.dirty
        ids, _ = make_id_numbers(rng, birth, sex, local)
        # Person-level dirty IDs: inconsistent (valid check digit, wrong birth date/sex) or a bad
        # check character.
        u = rng.random(k)
        inconsistent = u < cfg.id_inconsistent
        invalid = (u >= cfg.id_inconsistent) & (u < cfg.id_inconsistent + cfg.invalid_id_check)
        if inconsistent.any():
            j = np.flatnonzero(inconsistent)
            shift = rng.integers(31, 400, len(j))
            flip_sex = rng.random(len(j)) < 0.4
            alt_birth = np.where(flip_sex, birth[j], birth[j] - shift)
            alt_sex = np.where(flip_sex, 3 - sex[j], sex[j])
            ids[j], _ = make_id_numbers(rng, alt_birth, alt_sex, local[j])
        for j in np.flatnonzero(invalid):
            ids[j] = corrupt_check_digit(ids[j])
        rids, _rnum = self.rids("residents", k)
        dup = has_ehr & (rng.random(k) < cfg.duplicate_ehr)
        dup_rids = np.full(k, None, dtype=object)
        if dup.any():
            dup_rids[dup], _ = self.rids("residents", int(dup.sum()))
        dup_ids = ids.copy()
        lower = dup & np.array([s.endswith("X") for s in ids]) & (rng.random(k) < 0.6)
        for j in np.flatnonzero(lower):
            dup_ids[j] = ids[j][:17] + "x"
        other_town = (town + rng.integers(1, max(len(self.ctx.facility_codes), 2), k)) % len(
            self.ctx.facility_codes
        )
        cols = {
            "birth": birth.astype(np.int64),
            "sex": sex.astype(np.int8),
            "town": town.astype(np.int64),
            "entry": entry.astype(np.int64),
            "exit": np.full(k, NO_DAY, dtype=np.int64),
            "exit_reason": np.zeros(k, np.int8),
            "local": local.astype(bool),
            "has_ehr": has_ehr.astype(bool),
            "ehr_created": np.where(has_ehr, ehr_created, NO_DAY).astype(np.int64),
            "ehr_rid": rids,
            "id_number": ids,
            "id_inconsistent": inconsistent,
            "id_invalid": invalid,
            "name": make_names(rng, k),
            "phone": np.where(rng.random(k) < 0.93, make_phones(rng, k), None),
            "has_dup": dup,
            "dup_rid": dup_rids,
            "dup_id": dup_ids,
            "dup_created": np.where(dup, ehr_created + rng.integers(30, 900, k), NO_DAY),
            "dup_town": np.where(rng.random(k) < 0.5, town, other_town),
            "mother": (np.full(k, -1) if mother is None else mother).astype(np.int64),
            "last_delivery": np.full(k, -NO_DAY, dtype=np.int64),
            "preg_lmp": np.full(k, NO_DAY, dtype=np.int64),
            "preg_end": np.full(k, NO_DAY, dtype=np.int64),
            "maternal_death": np.zeros(k, dtype=bool),
        }
        for disease in ("htn", "t2d", "smd"):
            cols[f"{disease}_onset"] = np.full(k, NO_DAY, dtype=np.int64)
            cols[f"{disease}_dx"] = np.full(k, NO_DAY, dtype=np.int64)
            cols[f"{disease}_enrol"] = np.full(k, NO_DAY, dtype=np.int64)
        cols["smd_diag"] = rng.choice(len(demo.SMD_DIAGNOSES), k, p=demo.SMD_DIAGNOSIS_P)
        cols["smd_home"] = rng.random(k) < 0.95
        props = rng.random((k, len(PROPENSITIES))).astype(np.float32)
        for i, name in enumerate(PROPENSITIES):
            cols[f"u_{name}"] = props[:, i]
        start = self.n
        if not self.p:
            self.p = cols
        else:
            for key, arr in cols.items():
                self.p[key] = np.concatenate([self.p[key], arr])
        return np.arange(start, start + k)

    def init_population(self) -> None:
        ctx = self.ctx
        rng = self.rng("init")
        k = self.size
        start = ctx.start_day
        age = rng.choice(demo.AGES, k, p=demo.age_distribution())
        birth = start - 1 - (age * 365.2425 + rng.random(k) * 365).astype(np.int64)
        sex = np.where(rng.random(k) < demo.male_share(age), 1, 2)
        town = rng.choice(len(ctx.township_codes), k, p=ctx.district.weights)
        q = ctx.quality[town]
        cover = np.minimum(0.70 + 0.25 * q + np.where(age >= 65, 0.06, 0.0), 0.99)
        has_ehr = rng.random(k) < cover
        first = np.maximum(birth + 1, EHR_START_DAY)
        before = rng.random(k) < 0.85
        created = np.where(
            before,
            first + (rng.random(k) * np.maximum(start - first, 1)).astype(np.int64),
            start + (rng.random(k) * 3 * 365).astype(np.int64),
        )
        idx = self.add_persons(
            rng, birth, sex, town, np.full(k, start - 1), rng.random(k) < 0.72, has_ehr, created
        )
        self._prevalent_conditions(rng, idx, start)

    def _prevalent_conditions(self, rng: np.random.Generator, idx: np.ndarray, at: int) -> None:
        """Chronic conditions present at day ``at`` (start of history or arrival)."""
        p = self.p
        at = np.broadcast_to(np.asarray(at, dtype=np.int64), idx.shape)
        age = age_years(p["birth"][idx], at)
        q = self.q(idx)
        for disease, table in (("htn", demo.HTN_BY_AGE), ("t2d", demo.T2D_BY_AGE)):
            sick = rng.random(len(idx)) < demo.prevalence(table, age)
            adult18 = p["birth"][idx] + 18 * 365
            onset = np.maximum(at - (rng.random(len(idx)) * 12 * 365).astype(np.int64), adult18)
            dx = rng.random(len(idx)) < 0.55
            dx_day = onset + (rng.random(len(idx)) * np.maximum(at - onset, 1)).astype(np.int64)
            self._enrol(rng, idx[sick], onset[sick], dx_day[sick], dx[sick], q[sick], disease)
        smd = rng.random(len(idx)) < demo.prevalence(demo.SMD_BY_AGE, age)
        j = idx[smd]
        onset = np.maximum(
            at[smd] - (rng.random(len(j)) * 10 * 365).astype(np.int64), p["birth"][j] + 15 * 365
        )
        self._enrol_smd(rng, j, onset, onset + rng.integers(0, 120, len(j)))

    def _enrol(
        self,
        rng: np.random.Generator,
        j: np.ndarray,
        onset: np.ndarray,
        dx_day: np.ndarray,
        diagnosed: np.ndarray,
        q: np.ndarray,
        disease: str,
    ) -> None:
        p = self.p
        p[f"{disease}_onset"][j] = onset
        p[f"{disease}_dx"][j] = np.where(diagnosed, dx_day, NO_DAY)
        enrol = diagnosed & p["has_ehr"][j] & (rng.random(len(j)) < 0.72 + 0.25 * q)
        day = np.maximum(dx_day, p["ehr_created"][j]) + rng.integers(0, 90, len(j))
        p[f"{disease}_enrol"][j] = np.where(enrol, day, NO_DAY)

    def _enrol_smd(
        self, rng: np.random.Generator, j: np.ndarray, onset: np.ndarray, dx_day: np.ndarray
    ) -> None:
        """Severe mental disorders: ~93 % registered; registration creates an EHR if needed."""
        p = self.p
        p["smd_onset"][j] = onset
        reg = rng.random(len(j)) < 0.93
        p["smd_dx"][j] = np.where(reg, dx_day, NO_DAY)
        r = j[reg]
        no_ehr = ~p["has_ehr"][r]
        p["ehr_created"][r[no_ehr]] = dx_day[reg][no_ehr]
        p["has_ehr"][r] = True
        p["smd_enrol"][r] = np.maximum(dx_day[reg], p["ehr_created"][r]) + rng.integers(
            0, 60, len(r)
        )

    # ------------------------------------------------------------------ yearly events
    def exits(self, year: int) -> None:
        p = self.p
        rng = self.rng("exit", year)
        ys, ye = year_start(year), year_start(year + 1)
        n = self.n
        res = (p["entry"] < ys) & (p["exit"] >= NO_DAY)
        age = age_years(p["birth"], ys)
        die = res & (rng.random(n) < demo.death_probability(age, p["sex"]))
        move = res & ~die & (rng.random(n) < demo.move_out_probability(age))
        when = ys + (rng.random(n) * (ye - ys)).astype(np.int64)
        p["exit"][die | move] = when[die | move]
        p["exit_reason"][die] = 1
        p["exit_reason"][move] = 2

    def migrants(self, year: int) -> None:
        p = self.p
        rng = self.rng("migrate", year)
        ys, ye = year_start(year), year_start(year + 1)
        res = int(((p["entry"] < ys) & (p["exit"] >= ys)).sum())
        k = int(rng.poisson(demo.IN_MIGRATION_RATE * res))
        if not k:
            return
        arrival = ys + (rng.random(k) * (ye - ys)).astype(np.int64)
        age = demo.migrant_ages(rng, k)
        birth = arrival - (age * 365.2425 + rng.random(k) * 365).astype(np.int64)
        sex = np.where(rng.random(k) < demo.male_share(age), 1, 2)
        town = rng.choice(len(self.ctx.township_codes), k, p=self.ctx.district.weights)
        q = self.ctx.quality[town]
        has_ehr = rng.random(k) < 0.6 + 0.25 * q
        created = arrival + rng.integers(20, 400, k)
        idx = self.add_persons(
            rng, birth, sex, town, arrival, rng.random(k) < 0.1, has_ehr, created
        )
        self._prevalent_conditions(rng, idx, arrival)

    def incidence(self, year: int) -> None:
        p = self.p
        rng = self.rng("incidence", year)
        ys, ye = year_start(year), year_start(year + 1)
        n = self.n
        res = (p["entry"] < ys) & (p["exit"] >= ys)
        age = age_years(p["birth"], ys)
        when = ys + (rng.random(n) * (ye - ys)).astype(np.int64)
        for disease, table in (("htn", demo.HTN_BY_AGE), ("t2d", demo.T2D_BY_AGE)):
            new = (
                res
                & (p[f"{disease}_onset"] >= NO_DAY)
                & (rng.random(n) < demo.incidence(table, age))
                & (when < p["exit"])
            )
            j = np.flatnonzero(new)
            dx = rng.random(len(j)) < 0.55
            self._enrol(
                rng, j, when[j], when[j] + rng.integers(0, 90, len(j)), dx, self.q(j), disease
            )
        new = (
            res
            & (p["smd_onset"] >= NO_DAY)
            & (age >= 15)
            & (age < 65)
            & (rng.random(n) < 0.00012)
            & (when < p["exit"])
        )
        j = np.flatnonzero(new)
        self._enrol_smd(rng, j, when[j], when[j] + rng.integers(0, 120, len(j)))

    # ------------------------------------------------------------------ run
    def run(self) -> None:
        from phwarehouse.platform.services import child, chronic, contracts, exams, maternal
        from phwarehouse.platform.services import persons as person_records

        ctx = self.ctx
        self.init_population()
        # the platform holds each child's full vaccination history
        child.vaccinations(self, ctx.start_day - 7 * 366, ctx.start_day, (0, 900), 0)
        for year in range(ctx.start_year, ctx.end_year + 1):
            self.exits(year)
            self.migrants(year)
            self.incidence(year)
            maternal.births(self, year)
            contracts.family_doctor_contracts(self, year)
            chronic.htn_followups(self, year)
            chronic.t2d_followups(self, year)
            chronic.smd_followups(self, year)
            exams.health_exams(self, year)
            child.child_checks(self, year)
            child.vaccinations(self, year_start(year), year_start(year + 1), (year, 901), year)
        # pregnancies registered before the cut-off that deliver after the as-of year
        maternal.births(self, ctx.end_year + 1, extra=True)
        chronic.after_death_followups(self)
        person_records.residents(self)
        person_records.registries(self)
        person_records.deaths(self)
        self._truth()

    def population_counts(self) -> np.ndarray:
        """True residents at each year end: (years, townships, sex, age 0..100)."""
        ctx = self.ctx
        years = range(ctx.start_year, ctx.end_year + 1)
        out = np.zeros((len(years), len(ctx.township_codes), 2, demo.MAX_AGE + 1), np.int64)
        p = self.p
        for y, year in enumerate(years):
            ref = year_start(year + 1) - 1
            res = (p["entry"] <= ref) & (p["exit"] > ref)
            age = np.minimum(age_years(p["birth"][res], ref), demo.MAX_AGE)
            np.add.at(out[y], (p["town"][res], p["sex"][res] - 1, age), 1)
        return out

    def _truth(self) -> None:
        """Ground truth at the as-of date and per year (hidden from the platform's data)."""
        p = self.p
        ctx = self.ctx
        at = ctx.as_of_day
        res = (p["entry"] <= at) & (p["exit"] > at)
        age = age_years(p["birth"], at)
        adult = res & (age >= 18)
        t = self.truth
        t["residents_at_as_of"] += int(res.sum())
        t["aged_65_plus_at_as_of"] += int((res & (age >= 65)).sum())
        t["adults_at_as_of"] += int(adult.sum())
        t["htn_adults_at_as_of"] += int((adult & (p["htn_onset"] <= at)).sum())
        t["t2d_adults_at_as_of"] += int((adult & (p["t2d_onset"] <= at)).sum())
        t["smd_at_as_of"] += int((res & (p["smd_onset"] <= at)).sum())
        t["smd_registered_at_as_of"] += int((res & (p["smd_enrol"] <= at)).sum())
        t["ehr_active_at_as_of"] += int((res & p["has_ehr"] & (p["ehr_created"] <= at)).sum())
        died = p["exit_reason"] == 1
        dyear = p["exit"].astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
        for year in range(ctx.start_year, ctx.end_year + 1):
            in_year = died & (dyear == year)
            t[f"deaths_{year}"] += int(in_year.sum())
            t[f"infant_deaths_{year}"] += int((in_year & (p["exit"] - p["birth"] < 365)).sum())
            t[f"under5_deaths_{year}"] += int(
                (in_year & (age_years(p["birth"], p["exit"]) < 5)).sum()
            )
            t[f"maternal_deaths_{year}"] += int((in_year & p["maternal_death"]).sum())
            t[f"moved_out_{year}"] += int(((p["exit_reason"] == 2) & (dyear == year)).sum())


def run_chunk(ctx: SimContext, chunk: int, size: int, folder: str) -> dict:
    """Worker entry point: simulate one chunk, spill its records, return its summary."""
    from pathlib import Path

    writer = ChunkWriter(Path(folder))
    sim = ChunkSim(ctx, chunk, size, writer)
    sim.run()
    counts = writer.close()
    return {
        "chunk": chunk,
        "records": counts,
        "dirty": {e: dict(c) for e, c in sim.dirty_counts.items()},
        "person_dirty": dict(sim.person_dirty),
        "truth": dict(sim.truth),
        "population": sim.population_counts(),
    }
