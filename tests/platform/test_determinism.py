from __future__ import annotations

import filecmp
from pathlib import Path

from platform_helpers import make

from phwarehouse.platform.schema import ENTITY_NAMES


def _files(d: Path) -> list[Path]:
    return sorted(p.relative_to(d) for p in d.rglob("*") if p.is_file())


def test_same_seed_gives_identical_files(tmp_path):
    a = make(tmp_path / "a", seed=5, residents=2000)
    b = make(tmp_path / "b", seed=5, residents=2000)
    files = _files(a)
    assert files == _files(b)
    assert len([f for f in files if f.suffix == ".jsonl"]) == len(ENTITY_NAMES)
    for rel in files:
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel


def test_different_seed_gives_different_data(tmp_path):
    a = make(tmp_path / "a", seed=5, residents=2000)
    b = make(tmp_path / "b", seed=6, residents=2000)
    for entity in ("residents", "htn_followups", "vaccinations"):
        f = Path("jsonl") / f"{entity}.jsonl"
        assert not filecmp.cmp(a / f, b / f, shallow=False)


def test_later_as_of_extends_the_feed(tmp_path):
    """Within a year, a later as-of adds records but leaves earlier ones untouched."""
    early = make(tmp_path / "early", seed=5, residents=2000, as_of="2026-11-20")
    late = make(tmp_path / "late", seed=5, residents=2000, as_of="2026-11-22")
    cut = "2026-11-20T23:59:59Z"
    grew = 0
    for entity in ENTITY_NAMES:
        a = (early / "jsonl" / f"{entity}.jsonl").read_text(encoding="utf-8").splitlines()
        b = (late / "jsonl" / f"{entity}.jsonl").read_text(encoding="utf-8").splitlines()
        prefix = b[: len(a)]
        assert prefix == a, entity
        assert all(_ts(line) > cut for line in b[len(a) :] if _ts(line)), entity
        grew += len(b) - len(a)
    assert grew > 0


def _ts(line: str) -> str | None:
    i = line.find('"updated_at":"')
    return line[i + 14 : i + 34] if i >= 0 else None
