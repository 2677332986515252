"""Dirty-data injection at configurable rates (all on by default, ``clean()`` turns them off).

Row-level kinds are mutually exclusive per record (one uniform draw per record is split into
intervals), so the manifest counts are exact; a correction or deletion is counted on the new
version it adds. Person-level kinds (duplicate EHRs, bad ID
numbers, services after death) are applied by the simulator.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, fields

import numpy as np

from phwarehouse.contract import CONTRACT_KEYS, ENTITIES
from phwarehouse.platform.dates import DAY_SECONDS
from phwarehouse.platform.records import Batch


@dataclass(frozen=True)
class DirtyConfig:
    """Rates: per person for person-level kinds, per record for the others."""

    duplicate_ehr: float = 0.02  # second EHR with the same ID number (重复建档)
    invalid_id_check: float = 0.004  # ID number with a wrong check character
    id_inconsistent: float = 0.004  # ID body disagrees with birth date / sex fields
    service_after_death: float = 0.25  # of deceased HTN patients: a follow-up after death
    late_arrival: float = 0.02  # updated_at 14-90 days after the service
    future_dated: float = 0.0005  # event date typed with a swapped year (2025 -> 2052)
    implausible_vitals: float = 0.01  # of records with a reading: typo x10 or SBP/DBP swapped
    wrong_type: float = 0.0005  # a numeric field holds text such as "abc"
    missing_required: float = 0.003  # a required (non-key) field is null
    unknown_facility: float = 0.002  # facility code not in the org units
    missing_record_id: float = 0.0005  # contract violation
    missing_person_ref: float = 0.0005  # contract violation
    missing_event_date: float = 0.0005  # contract violation
    malformed_json: float = 0.0005  # unparseable JSON line (cut mid-record)
    correction: float = 0.01  # a later version with the same record_id
    deletion: float = 0.003  # a later tombstone

    @classmethod
    def clean(cls) -> DirtyConfig:
        return cls(**{f.name: 0.0 for f in fields(cls)})

    def with_overrides(self, overrides: dict[str, float]) -> DirtyConfig:
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown dirty-data kinds: {sorted(unknown)}")
        return DirtyConfig(**{**asdict(self), **overrides})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


ROW_KINDS = (
    "future_dated",
    "implausible_vitals",
    "wrong_type",
    "missing_required",
    "unknown_facility",
    "missing_record_id",
    "missing_person_ref",
    "missing_event_date",
    "malformed_json",
    "correction",
    "deletion",
)
#: Entities whose records have several natural versions: no corrections/tombstones injected.
STATEFUL = {"residents", "htn_registry", "t2d_registry", "smd_registry", "pregnancies"}
UNKNOWN_FACILITY_CODE = "41010899900"
WRONG_TYPE_VALUES = ["abc", "NA", "一百二", "-", "1 2 0"]


def _facility_field(entity: str) -> str | None:
    names = ENTITIES[entity].field_names()
    for f in ("facility_code", "managing_facility_code"):
        if f in names:
            return f
    return None


def _numeric_fields(entity: str) -> list[str]:
    return [f.name for f in ENTITIES[entity].payload_fields() if f.type in ("integer", "number")]


def _optional_required(entity: str) -> list[str]:
    keys = set(CONTRACT_KEYS[entity].__dict__.values())
    return [
        f.name
        for f in ENTITIES[entity].payload_fields()
        if f.required and f.name not in keys and "facility" not in f.name
    ]


def _swap_year(date: str, cutoff_year: int) -> str:
    y = date[:4]
    swapped = y[:2] + y[3] + y[2]
    year = int(swapped) if int(swapped) > cutoff_year else int(y) + 10
    return f"{year:04d}{date[4:]}"


def apply_dirty(
    batch: Batch, rng: np.random.Generator, cfg: DirtyConfig, cutoff: int, counts: Counter
) -> Batch:
    """Inject dirty data into a batch, then drop what the platform has not received by the
    cut-off and count the injected kinds among the kept rows.

    All random draws are made per row before the cut-off filter, so a run with a later as-of
    date produces the same rows (and the same dirt) up to the earlier cut-off.
    """
    n = len(batch)
    if not n:
        return batch
    draws = rng.random((n, 5))
    tags: list[str | None] = [None] * n
    late = [False] * n
    if cfg.late_arrival and batch.entity not in STATEFUL:
        for i in np.flatnonzero(draws[:, 0] < cfg.late_arrival).tolist():
            batch.updated[i] += int(14 + draws[i, 1] * 77) * DAY_SECONDS
            late[i] = True
    _apply_row_kinds(batch, draws, cfg, cutoff, tags)
    late += [False] * (len(batch) - n)
    keep = [i for i in range(len(batch)) if batch.updated[i] <= cutoff]
    for i in keep:
        if tags[i]:
            counts[tags[i]] += 1
        if late[i]:
            counts["late_arrival"] += 1
    malformed = {i for i in keep if tags[i] == "malformed_json"}
    if len(keep) == len(batch):
        batch.malformed = malformed
        return batch
    out = batch.take(keep)
    pos = {old: new for new, old in enumerate(keep)}
    out.malformed = {pos[i] for i in malformed}
    return out


def _apply_row_kinds(
    batch: Batch, draws: np.ndarray, cfg: DirtyConfig, cutoff: int, tags: list[str | None]
) -> None:
    """Inject the mutually exclusive row-level kinds in place (``tags`` gets one entry per
    row, including appended versions)."""
    len(batch)
    entity = batch.entity
    keys = CONTRACT_KEYS[entity]
    rates = np.array([getattr(cfg, k) for k in ROW_KINDS])
    if not rates.any():
        return
    kind_idx = np.searchsorted(np.cumsum(rates), draws[:, 2], side="right")
    picks = draws[:, 3]
    days = 1 + (draws[:, 4] * 60).astype(np.int64)
    fac = _facility_field(entity)
    numeric = _numeric_fields(entity)
    optional = _optional_required(entity)
    cutoff_year = int(np.datetime64(cutoff, "s").astype("datetime64[Y]").astype(int)) + 1970
    cols = batch.cols
    for i in np.flatnonzero(kind_idx < len(ROW_KINDS)).tolist():
        kind = ROW_KINDS[kind_idx[i]]
        done = False
        if kind == "future_dated" and keys.event_date and cols[keys.event_date][i]:
            ev = keys.event_date
            if ENTITIES[entity].field(ev).type == "date":
                cols[ev][i] = _swap_year(cols[ev][i], cutoff_year)
                done = True
        elif kind == "implausible_vitals":
            done = _implausible(cols, i, picks[i])
        elif kind == "wrong_type" and numeric:
            name = numeric[int(picks[i] * len(numeric))]
            cols[name][i] = WRONG_TYPE_VALUES[i % len(WRONG_TYPE_VALUES)]
            done = True
        elif kind == "missing_required" and optional:
            cols[optional[int(picks[i] * len(optional))]][i] = None
            done = True
        elif kind == "unknown_facility" and fac:
            cols[fac][i] = UNKNOWN_FACILITY_CODE
            done = True
        elif kind == "missing_record_id":
            batch.record_id[i] = None
            batch.rid_num[i] = -1
            done = True
        elif kind == "missing_person_ref" and keys.person_ref:
            cols[keys.person_ref][i] = None
            done = True
        elif kind == "missing_event_date" and keys.event_date:
            cols[keys.event_date][i] = None
            done = True
        elif kind == "malformed_json":
            done = True
        elif kind in ("correction", "deletion") and entity not in STATEFUL:
            new_upd = batch.updated[i] + int(days[i]) * DAY_SECONDS
            if kind == "correction":
                batch.append_row(
                    i,
                    version=batch.version[i] + 1,
                    updated=new_upd,
                    changes=_correction(cols, i, picks[i]),
                )
            else:
                batch.append_row(i, version=batch.version[i] + 1, updated=new_upd, deleted=True)
            tags.append(kind)
        if done:
            tags[i] = kind


def _implausible(cols: dict[str, list], i: int, pick: float) -> bool:
    sbp, dbp = cols.get("sbp"), cols.get("dbp")
    if sbp is not None and isinstance(sbp[i], int) and isinstance(dbp[i], int):
        if pick < 0.5:
            sbp[i] = sbp[i] * 10  # 140 -> 1400
        else:
            sbp[i], dbp[i] = dbp[i], sbp[i]
        return True
    fbg = cols.get("fasting_glucose_mmol_l")
    if fbg is not None and isinstance(fbg[i], float):
        fbg[i] = round(fbg[i] * 10, 1)  # 6.5 -> 65.0
        return True
    bw = cols.get("birth_weight_g")
    if bw is not None and isinstance(bw[i], int):
        bw[i] = bw[i] * 10
        return True
    return False


def _correction(cols: dict[str, list], i: int, pick: float) -> dict:
    """A plausible edit: re-typed reading, or the doctor's name filled in."""
    if "sbp" in cols and isinstance(cols["sbp"][i], int):
        return {"sbp": cols["sbp"][i] + (2 if pick < 0.5 else -2)}
    if "fasting_glucose_mmol_l" in cols and isinstance(cols["fasting_glucose_mmol_l"][i], float):
        return {"fasting_glucose_mmol_l": round(cols["fasting_glucose_mmol_l"][i] + 0.1, 1)}
    if "batch_number" in cols:
        return {"batch_number": f"{cols['batch_number'][i] or ''}A"}
    if "doctor_name" in cols:
        return {"doctor_name": "王医生" if pick < 0.5 else "李医生"}
    return {}
