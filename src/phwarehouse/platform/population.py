"""The statistics bureau's official population table (常住人口): township x year x sex x single
year of age, the simulated true year-end population with small noise. One CSV per year."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from phwarehouse.platform.context import SimContext

HEADERS = ["年份", "乡镇街道代码", "乡镇街道名称", "性别", "年龄", "常住人口"]
SEX_LABELS = ["男", "女"]
TOP_AGE_NOTE = 100  # age 100 means 100 and over


def official_table(ctx: SimContext, true_counts: np.ndarray) -> np.ndarray:
    """Noisy counts (about ±2 % per cell, never negative) from the true year-end counts."""
    out = np.empty_like(true_counts)
    for y in range(true_counts.shape[0]):
        rng = np.random.default_rng([ctx.seed, 7100, ctx.start_year + y])
        t = true_counts[y].astype(float)
        noisy = t * rng.normal(1.0, 0.02, t.shape) + rng.normal(0, 0.4, t.shape)
        out[y] = np.maximum(np.round(noisy), 0).astype(np.int64)
    return out


def write_population(ctx: SimContext, table: np.ndarray, out_dir: Path) -> list[Path]:
    folder = out_dir / "population"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    names = [t.name for t in ctx.district.townships]
    for y in range(table.shape[0]):
        year = ctx.start_year + y
        path = folder / f"population_{year}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEADERS)
            for ti, code in enumerate(ctx.township_codes):
                for s in range(2):
                    for age in range(table.shape[3]):
                        w.writerow(
                            [year, code, names[ti], SEX_LABELS[s], age, int(table[y, ti, s, age])]
                        )
        paths.append(path)
    return paths
