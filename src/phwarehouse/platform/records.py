"""Record batches: columnar payloads plus the change-feed envelope, and their JSON lines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from phwarehouse.contract import ENTITIES
from phwarehouse.platform.dates import DAY_SECONDS, NO_DAY, fmt_days, fmt_seconds

#: record_id prefix per entity; ids are prefix + 4-digit chunk + 8-digit sequence, so string
#: order equals numeric order within an entity.
RID_PREFIX = {
    "residents": "EHR",
    "family_doctor_contracts": "FDC",
    "htn_registry": "HTR",
    "t2d_registry": "T2R",
    "smd_registry": "SMR",
    "htn_followups": "HTF",
    "t2d_followups": "T2F",
    "smd_followups": "SMF",
    "health_exams": "HEX",
    "pregnancies": "PRG",
    "prenatal_exams": "PNE",
    "deliveries": "DLV",
    "postpartum_visits": "PPV",
    "postpartum_42d_checks": "P42",
    "newborn_visits": "NBV",
    "child_health_checks": "CHC",
    "child_tcm_guidance": "CTG",
    "vaccinations": "VAC",
    "deaths": "DTH",
}
SEQ_SPAN = 10**8


def rid_strings(entity: str, chunk: int, seq: np.ndarray) -> np.ndarray:
    prefix = f"{RID_PREFIX[entity]}{chunk:04d}"
    return np.array([f"{prefix}{s:08d}" for s in seq.tolist()], dtype=object)


def _to_list(values, type_: str) -> list:
    if isinstance(values, list):
        return values
    arr = np.asarray(values)
    if type_ == "date":
        return fmt_days(arr)
    if type_ == "datetime":
        return fmt_seconds(arr)
    if arr.dtype == object:
        return arr.tolist()
    if type_ == "integer":
        if arr.dtype.kind == "f":
            return [None if v != v else int(v) for v in arr.tolist()]
        return arr.astype(np.int64).tolist()
    if type_ == "number":
        return [None if v != v else v for v in np.round(arr.astype(float), 2).tolist()]
    if type_ == "boolean":
        return arr.astype(bool).tolist()
    return arr.tolist()


@dataclass
class Batch:
    """A set of records of one entity (all lists are parallel)."""

    entity: str
    cols: dict[str, list]
    record_id: list[str | None]
    rid_num: list[int]
    version: list[int]
    updated: list[int]  # epoch seconds UTC
    deleted: list[bool]
    malformed: set[int] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.updated)

    @classmethod
    def build(
        cls,
        entity: str,
        rids: np.ndarray,
        rid_num: np.ndarray,
        updated: np.ndarray,
        version: np.ndarray | int = 1,
        **cols,
    ) -> Batch:
        spec = ENTITIES[entity]
        n = len(updated)
        out: dict[str, list] = {}
        for f in spec.payload_fields():
            v = cols.pop(f.name, None)
            if v is None:
                out[f.name] = [None] * n
            elif np.isscalar(v):
                out[f.name] = [v] * n
            else:
                out[f.name] = _to_list(v, f.type)
                assert len(out[f.name]) == n, (entity, f.name)
        assert not cols, f"unknown fields for {entity}: {sorted(cols)}"
        ver = np.broadcast_to(np.asarray(version, dtype=np.int64), (n,))
        return cls(
            entity,
            out,
            list(rids),
            np.asarray(rid_num, dtype=np.int64).tolist(),
            ver.tolist(),
            np.asarray(updated, dtype=np.int64).tolist(),
            [False] * n,
        )

    def take(self, keep: list[int]) -> Batch:
        return Batch(
            self.entity,
            {k: [v[i] for i in keep] for k, v in self.cols.items()},
            [self.record_id[i] for i in keep],
            [self.rid_num[i] for i in keep],
            [self.version[i] for i in keep],
            [self.updated[i] for i in keep],
            [self.deleted[i] for i in keep],
        )

    def append_row(
        self,
        src: int,
        *,
        version: int,
        updated: int,
        deleted: bool = False,
        changes: dict | None = None,
    ) -> int:
        """Append a copy of row ``src`` as a new version; returns its index."""
        for v in self.cols.values():
            v.append(None if deleted else v[src])
        if changes:
            for k, v in changes.items():
                self.cols[k][-1] = v
        self.record_id.append(self.record_id[src])
        self.rid_num.append(self.rid_num[src])
        self.version.append(version)
        self.updated.append(updated)
        self.deleted.append(deleted)
        return len(self.updated) - 1

    def to_lines(self) -> list[bytes]:
        names = list(self.cols)
        ts = fmt_seconds(np.asarray(self.updated, dtype=np.int64)) if self.updated else []
        rows = zip(*self.cols.values(), strict=True) if names else iter([()] * len(self))
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        lines = []
        for i, row in enumerate(rows):
            env = {
                "record_id": self.record_id[i],
                "version": self.version[i],
                "updated_at": ts[i],
                "deleted": self.deleted[i],
            }
            if not self.deleted[i]:
                env.update(zip(names, row, strict=True))
            text = dumps(env)
            if i in self.malformed:
                text = text[: max(10, len(text) // 2)]  # cut mid-record: unparseable line
            lines.append((text + "\n").encode("utf-8"))
        return lines


def updated_at(rng: np.random.Generator, day: np.ndarray, lag_max: int = 3) -> np.ndarray:
    """Platform timestamp for a record dated ``day``: entered 0..lag_max days later during
    office hours (08:00-18:00 Beijing = 00:00-10:00 UTC)."""
    d = np.asarray(day, dtype=np.int64)
    lag = rng.integers(0, lag_max + 1, len(d))
    return (np.minimum(d, NO_DAY - 1000) + lag) * DAY_SECONDS + rng.integers(0, 36_000, len(d))
