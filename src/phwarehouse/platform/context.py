"""Immutable run settings shared by the generator's workers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phwarehouse.platform.dates import DAY_SECONDS, day_of
from phwarehouse.platform.dirty import DirtyConfig
from phwarehouse.platform.ids import make_names
from phwarehouse.platform.org import District, facility_quality

# Monthly activity weights: slow January/February (Spring Festival), year-end push.
SERVICE_MONTH_WEIGHTS = np.array([0.45, 0.5, 0.9, 1.0, 1.05, 1.0, 0.9, 0.9, 1.05, 1.15, 1.35, 1.2])
EXAM_MONTH_WEIGHTS = np.array([0.25, 0.3, 0.7, 0.9, 1.1, 1.0, 0.8, 0.8, 1.1, 1.3, 1.5, 0.9])
CONTRACT_MONTH_WEIGHTS = np.array([3.0, 2.5, 2.0, 1.2, 0.8, 0.6, 0.5, 0.5, 0.6, 0.6, 0.5, 0.4])


@dataclass
class SimContext:
    seed: int
    residents: int
    start_year: int
    as_of: str  # YYYY-MM-DD
    district: District
    dirty: DirtyConfig
    quality: np.ndarray = field(init=False)  # per township/facility, 0..1
    facility_codes: np.ndarray = field(init=False)
    township_codes: np.ndarray = field(init=False)
    station_codes: np.ndarray = field(init=False)  # all stations, grouped by township
    station_open: np.ndarray = field(init=False)
    station_close: np.ndarray = field(init=False)
    station_offset: np.ndarray = field(init=False)  # first station index per township
    station_count: np.ndarray = field(init=False)
    doctors: np.ndarray = field(init=False)  # (townships, 8) names
    team_names: np.ndarray = field(init=False)  # (townships, 4)

    def __post_init__(self) -> None:
        d = self.district
        self.quality = facility_quality(d, self.seed)
        self.facility_codes = np.array([f.code for f in d.facilities], dtype=object)
        self.township_codes = np.array([t.code for t in d.townships], dtype=object)
        codes, opened, closed, offs, counts = [], [], [], [], []
        for group in d.stations:
            offs.append(len(codes))
            counts.append(len(group))
            for s in group:
                codes.append(s.code)
                opened.append(day_of(s.opened_on))
                closed.append(day_of(s.closed_on) if s.closed_on else 10**7)
        self.station_codes = np.array(codes, dtype=object)
        self.station_open = np.array(opened, dtype=np.int64)
        self.station_close = np.array(closed, dtype=np.int64)
        self.station_offset = np.array(offs, dtype=np.int64)
        self.station_count = np.array(counts, dtype=np.int64)
        rng = np.random.default_rng([self.seed, 7002])
        n = len(d.townships)
        self.doctors = make_names(rng, n * 8).reshape(n, 8)
        self.team_names = np.array(
            [
                [
                    f"{f.name.replace('社区卫生服务中心', '').replace('卫生院', '')}家庭医生{k}团队"
                    for k in range(1, 5)
                ]
                for f in d.facilities
            ],
            dtype=object,
        )

    @property
    def as_of_day(self) -> int:
        return day_of(self.as_of)

    @property
    def cutoff(self) -> int:
        """Last second (UTC) the platform has seen: the end of the as-of day."""
        return (self.as_of_day + 1) * DAY_SECONDS - 1

    @property
    def end_year(self) -> int:
        return int(self.as_of[:4])

    @property
    def start_day(self) -> int:
        return day_of(f"{self.start_year:04d}-01-01")
