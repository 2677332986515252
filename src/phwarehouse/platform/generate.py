"""Generate a synthetic district: change feed (JSONL), population CSVs and a manifest."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from phwarehouse.contract import ENTITY_NAMES
from phwarehouse.platform.context import SimContext
from phwarehouse.platform.dates import DAY_SECONDS, day_of, month_table
from phwarehouse.platform.dirty import DirtyConfig
from phwarehouse.platform.ids import make_names
from phwarehouse.platform.org import load_district
from phwarehouse.platform.population import official_table, write_population
from phwarehouse.platform.records import Batch
from phwarehouse.platform.simulate import run_chunk
from phwarehouse.platform.writer import ChunkWriter, merge_entity

CHUNK_SIZE = 10_000
GENERATOR_VERSION = "1"


@dataclass
class GenerateConfig:
    seed: int = 42
    residents: int = 30_000
    start_year: int | None = None  # default: as-of year - 2
    as_of: str | None = None  # default: today (UTC)
    out: Path = Path("out/platform")
    org_file: Path | None = None
    dirty: DirtyConfig = field(default_factory=DirtyConfig)
    workers: int | None = None  # default: CPU count (output does not depend on it)

    def resolved(self) -> GenerateConfig:
        import datetime as dt

        as_of = self.as_of or dt.datetime.now(dt.UTC).date().isoformat()
        start = self.start_year or int(as_of[:4]) - 2
        return GenerateConfig(
            self.seed,
            self.residents,
            start,
            as_of,
            Path(self.out),
            self.org_file,
            self.dirty,
            self.workers,
        )


def chunk_sizes(total: int) -> list[int]:
    n = max(1, math.ceil(total / CHUNK_SIZE))
    base, extra = divmod(total, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def generate(config: GenerateConfig) -> dict:
    """Write ``jsonl/``, ``index/``, ``population/`` and ``manifest.json`` under ``out``."""
    cfg = config.resolved()
    out = cfg.out
    if int(cfg.as_of[:4]) < cfg.start_year:
        raise ValueError("as-of date is before the start year")
    ctx = SimContext(
        cfg.seed, cfg.residents, cfg.start_year, cfg.as_of, load_district(cfg.org_file), cfg.dirty
    )
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("jsonl", "index", "population"):
        shutil.rmtree(out / sub, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix="phw-gen-", dir=out))
    try:
        sizes = chunk_sizes(cfg.residents)
        dirs = [tmp / f"chunk{c:04d}" for c in range(len(sizes))]
        workers = cfg.workers or min(os.cpu_count() or 1, len(sizes))
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                futures = [
                    pool.submit(run_chunk, ctx, c, s, str(d))
                    for c, (s, d) in enumerate(zip(sizes, dirs, strict=True))
                ]
                summaries = [f.result() for f in futures]
        else:
            summaries = [
                run_chunk(ctx, c, s, str(d))
                for c, (s, d) in enumerate(zip(sizes, dirs, strict=True))
            ]
        platform_dir = tmp / "platform"
        writer = ChunkWriter(platform_dir)
        _org_units(ctx, writer)
        _report_submissions(ctx, writer)
        writer.close()
        all_dirs = [*dirs, platform_dir]
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                totals = dict(
                    zip(
                        ENTITY_NAMES,
                        pool.map(
                            merge_entity,
                            ENTITY_NAMES,
                            [all_dirs] * len(ENTITY_NAMES),
                            [out] * len(ENTITY_NAMES),
                        ),
                        strict=True,
                    )
                )
        else:
            totals = {e: merge_entity(e, all_dirs, out) for e in ENTITY_NAMES}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    population = sum(s["population"] for s in summaries)
    official = official_table(ctx, population)
    write_population(ctx, official, out)
    manifest = _manifest(cfg, ctx, summaries, totals, official)
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


def _org_units(ctx: SimContext, writer: ChunkWriter) -> None:
    units = ctx.district.units
    rng = np.random.default_rng([ctx.seed, 7200])
    base = day_of("2016-01-01")
    rows = []
    for i, u in enumerate(units):
        first = max(day_of(u.opened_on) - 30, base)
        rows.append((i, u, first * DAY_SECONDS + int(rng.integers(0, 36_000)), 1))
        if u.closed_on:
            rows.append((i, u, day_of(u.closed_on) * DAY_SECONDS + 3600, 2))
    cut = ctx.cutoff
    rows = [r for r in rows if r[2] <= cut]
    codes = [r[1].code for r in rows]
    order = {c: k for k, c in enumerate(sorted(set(codes)))}
    batch = Batch.build(
        "org_units",
        np.array(codes, dtype=object),
        np.array([order[c] for c in codes]),
        np.array([r[2] for r in rows]),
        version=np.array([r[3] for r in rows]),
        org_unit_code=np.array(codes, dtype=object),
        name=np.array([r[1].name for r in rows], dtype=object),
        level=np.array([r[1].level for r in rows], dtype=object),
        parent_code=np.array([r[1].parent_code for r in rows], dtype=object),
        division_code=np.array([r[1].division_code for r in rows], dtype=object),
        opened_on=np.array([day_of(r[1].opened_on) for r in rows]),
        closed_on=[r[1].closed_on if r[3] == 2 else None for r in rows],
    )
    writer.write(batch)


def _report_submissions(ctx: SimContext, writer: ChunkWriter) -> None:
    """Monthly work reports due by the 25th: mostly on time, some late, some missing."""
    rows = []
    for fi, fac in enumerate(ctx.district.facilities):
        rng = np.random.default_rng([ctx.seed, 7300, fi])
        names = make_names(rng, 3)
        q = ctx.quality[fi]
        opened = day_of(fac.opened_on)
        closed = day_of(fac.closed_on) if fac.closed_on else 10**7
        for year in range(ctx.start_year, ctx.end_year + 1):
            first, length = month_table(year)
            for m in range(12):
                u, v, w = rng.random(3)
                if first[m] + length[m] <= opened or first[m] >= closed:
                    continue
                if u < 0.03 + 0.04 * (1 - q):
                    continue  # missing
                if v < 0.82 + 0.15 * q:
                    day = first[m] + 17 + int(w * 8)  # 18th-25th
                else:
                    day = first[m] + 25 + int(w * 16)  # 26th to the 10th of next month
                ts = day * DAY_SECONDS + 3600 + int(w * 30_000)
                rows.append((fac.code, f"{year:04d}-{m + 1:02d}", ts, str(names[int(v * 3)])))
    rows = [r for r in rows if r[2] <= ctx.cutoff]
    rows.sort(key=lambda r: (r[0], r[1]))
    rids = np.array([f"RPT{r[0]}{r[1].replace('-', '')}" for r in rows], dtype=object)
    ts = np.array([r[2] for r in rows], dtype=np.int64)
    writer.write(
        Batch.build(
            "report_submissions",
            rids,
            np.arange(len(rows)),
            ts,
            facility_code=np.array([r[0] for r in rows], dtype=object),
            report_month=[r[1] for r in rows],
            submitted_at=ts,
            reporter_name=np.array([r[3] for r in rows], dtype=object),
        )
    )


def _manifest(
    cfg: GenerateConfig,
    ctx: SimContext,
    summaries: list[dict],
    totals: dict[str, int],
    official: np.ndarray,
) -> dict:
    dirty: dict[str, Counter] = {}
    for s in summaries:
        for entity, counts in s["dirty"].items():
            dirty.setdefault(entity, Counter()).update(counts)
    person_dirty: Counter = Counter()
    truth: Counter = Counter()
    for s in summaries:
        person_dirty.update(s["person_dirty"])
        truth.update(s["truth"])
    by_kind: dict[str, dict] = {}
    for entity, counts in dirty.items():
        for kind, n in counts.items():
            if n:
                by_kind.setdefault(kind, {"total": 0, "by_entity": {}})
                by_kind[kind]["by_entity"][entity] = n
                by_kind[kind]["total"] += n
    for kind, n in person_dirty.items():
        by_kind[kind] = {
            "total": n,
            "by_entity": {"residents": n}
            if kind != "service_after_death"
            else {"htn_followups": n},
        }
    return {
        "generator": "phwarehouse.platform",
        "generator_version": GENERATOR_VERSION,
        "seed": cfg.seed,
        "residents": cfg.residents,
        "start_year": cfg.start_year,
        "as_of": cfg.as_of,
        "cutoff": f"{cfg.as_of}T23:59:59Z",
        "org_file": str(cfg.org_file) if cfg.org_file else "default:org_units_410108.csv",
        "dirty_config": cfg.dirty.as_dict(),
        "entities": {e: {"lines": totals[e], "file": f"jsonl/{e}.jsonl"} for e in ENTITY_NAMES},
        "dirty_counts": dict(sorted(by_kind.items())),
        "population_files": [
            f"population/population_{y}.csv" for y in range(cfg.start_year, int(cfg.as_of[:4]) + 1)
        ],
        "official_population": {
            str(cfg.start_year + y): int(official[y].sum()) for y in range(official.shape[0])
        },
        "truth": dict(sorted(truth.items())),
        "notes": {
            "dirty_counts": "per kind, counted on lines present in the feed (after the cut-off); "
            "correction/deletion count the added version; person-level kinds "
            "(duplicate_ehr, invalid_id_check, id_inconsistent) count persons",
            "truth": "simulated ground truth, not visible on the platform",
        },
    }
