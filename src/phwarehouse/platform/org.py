"""Org units: the district, its townships/streets, one primary-care facility per township and
the village clinics / community stations under each facility."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

LEVELS = ("district", "township", "facility", "station")
ORG_COLUMNS = (
    "org_unit_code",
    "name",
    "level",
    "parent_code",
    "division_code",
    "opened_on",
    "closed_on",
)


@dataclass(frozen=True)
class OrgUnit:
    code: str
    name: str
    level: str
    parent_code: str | None
    division_code: str
    opened_on: str
    closed_on: str | None
    population_weight: float | None = None


@dataclass(frozen=True)
class District:
    """The org tree in the shape the generator needs (township order = CSV order)."""

    units: tuple[OrgUnit, ...]
    townships: tuple[OrgUnit, ...]
    facilities: tuple[OrgUnit, ...]  # facilities[i] serves townships[i]
    stations: tuple[tuple[OrgUnit, ...], ...]  # stations[i] are under facilities[i]
    weights: np.ndarray  # population share per township (sums to 1)

    @property
    def district(self) -> OrgUnit:
        return next(u for u in self.units if u.level == "district")

    def codes(self) -> set[str]:
        return {u.code for u in self.units}


def default_org_file() -> Path:
    return Path(str(resources.files("phwarehouse.platform") / "data" / "org_units_410108.csv"))


def _stable_weight(code: str) -> float:
    digest = hashlib.sha256(code.encode()).digest()
    return 0.7 + (digest[0] / 255.0) * 0.6


def load_district(path: Path | str | None = None) -> District:
    """Read an org file (columns ``ORG_COLUMNS`` plus optional ``population_weight``)."""
    path = Path(path) if path else default_org_file()
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in ORG_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"org file {path} lacks columns {missing}")
    units = tuple(
        OrgUnit(
            code=r["org_unit_code"].strip(),
            name=r["name"].strip(),
            level=r["level"].strip(),
            parent_code=(r.get("parent_code") or "").strip() or None,
            division_code=r["division_code"].strip(),
            opened_on=r["opened_on"].strip(),
            closed_on=(r.get("closed_on") or "").strip() or None,
            population_weight=float(r["population_weight"])
            if (r.get("population_weight") or "").strip()
            else None,
        )
        for r in rows
    )
    bad = {u.level for u in units} - set(LEVELS)
    if bad:
        raise ValueError(f"unknown org levels {bad}")
    townships = tuple(u for u in units if u.level == "township")
    facilities, stations = [], []
    for t in townships:
        facs = [u for u in units if u.level == "facility" and u.parent_code == t.code]
        if len(facs) != 1:
            raise ValueError(f"township {t.code} must have exactly one facility, has {len(facs)}")
        facilities.append(facs[0])
        stations.append(
            tuple(u for u in units if u.level == "station" and u.parent_code == facs[0].code)
        )
    w = np.array([t.population_weight or _stable_weight(t.code) for t in townships], dtype=float)
    return District(units, townships, tuple(facilities), tuple(stations), w / w.sum())


def facility_quality(district: District, seed: int) -> np.ndarray:
    """Per-facility performance in [0.05, 0.95], evenly spread and shuffled by the seed, so that
    some facilities meet the service targets and some do not."""
    n = len(district.facilities)
    levels = np.linspace(0.05, 0.95, n) if n > 1 else np.array([0.5])
    rng = np.random.default_rng([seed, 7001])
    return levels[rng.permutation(n)]
