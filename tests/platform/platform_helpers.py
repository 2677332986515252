"""Reading generated feeds in tests."""

from __future__ import annotations

import json
from pathlib import Path

from phwarehouse.platform.dirty import DirtyConfig
from phwarehouse.platform.generate import GenerateConfig, generate

AS_OF = "2026-11-22"


def make(
    out: Path,
    seed: int = 7,
    residents: int = 4000,
    dirty: DirtyConfig | None = None,
    as_of: str = AS_OF,
) -> Path:
    generate(
        GenerateConfig(
            seed=seed,
            residents=residents,
            start_year=2024,
            as_of=as_of,
            out=out,
            dirty=dirty or DirtyConfig(),
            workers=1,
        )
    )
    return out


def raw_lines(data: Path, entity: str) -> list[str]:
    return (data / "jsonl" / f"{entity}.jsonl").read_text(encoding="utf-8").splitlines()


def records(data: Path, entity: str) -> list[dict]:
    out = []
    for line in raw_lines(data, entity):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def current(data: Path, entity: str) -> dict[str, dict]:
    """Latest version per record id, tombstoned records removed."""
    latest: dict[str, dict] = {}
    for rec in records(data, entity):
        if rec.get("record_id") is None:
            continue
        if rec["deleted"]:
            latest.pop(rec["record_id"], None)
        else:
            latest[rec["record_id"]] = rec
    return latest
