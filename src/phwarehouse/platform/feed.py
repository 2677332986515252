"""Read side of the change feed: per-entity byte-offset index over the sorted JSONL files, so a
page is one ``pread`` and memory stays bounded whatever the district size."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phwarehouse.platform.dates import parse_timestamp
from phwarehouse.platform.writer import INDEX_DIR, write_index

_UPDATED = re.compile(rb'"updated_at"\s*:\s*"([^"]+)"')


@dataclass
class EntityFeed:
    name: str
    path: Path
    updated: np.ndarray  # epoch seconds per line (non-decreasing)
    offsets: np.ndarray  # n + 1 line start offsets
    fd: int

    def position_after(self, since: int) -> int:
        """First line with updated_at > since."""
        return int(np.searchsorted(self.updated, since, side="right"))

    def read_lines(self, start: int, stop: int) -> list[bytes]:
        if stop <= start:
            return []
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        blob = os.pread(self.fd, hi - lo, lo)
        return blob.split(b"\n")[: stop - start]


class FeedStore:
    """All entity feeds of a generated data folder."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.feeds: dict[str, EntityFeed] = {}
        self._lock = threading.Lock()
        for path in sorted((self.data_dir / "jsonl").glob("*.jsonl")):
            self.feeds[path.stem] = self._open(path)

    def _open(self, path: Path) -> EntityFeed:
        entity = path.stem
        idx_path = self.data_dir / INDEX_DIR / f"{entity}.npz"
        size = path.stat().st_size
        if idx_path.exists():
            with np.load(idx_path) as z:
                if int(z["size"][0]) == size:
                    return EntityFeed(
                        entity, path, z["updated"], z["offsets"], os.open(path, os.O_RDONLY)
                    )
        updated, offsets = scan_index(path)
        write_index(self.data_dir, entity, updated, offsets, size)
        return EntityFeed(entity, path, updated, offsets, os.open(path, os.O_RDONLY))

    def close(self) -> None:
        for feed in self.feeds.values():
            os.close(feed.fd)


def scan_index(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Index a JSONL feed without one: updated_at per line (an unparseable line inherits the
    previous line's), and line offsets."""
    updated, offsets = [], [0]
    last = 0
    with path.open("rb") as f:
        for line in f:
            m = _UPDATED.search(line)
            if m:
                with contextlib.suppress(ValueError):
                    last = parse_timestamp(m.group(1).decode())
            updated.append(last)
            offsets.append(offsets[-1] + len(line))
    return np.array(updated, dtype=np.int64), np.array(offsets, dtype=np.int64)


def as_json_item(line: bytes) -> bytes:
    """A feed line as an element of the API's ``data`` array. Lines that are not a JSON object
    (malformed rows) are passed on as a JSON string holding the raw text."""
    line = line.rstrip(b"\r")
    if line.startswith(b"{") and line.endswith(b"}"):
        return line
    return json.dumps(line.decode("utf-8", "replace"), ensure_ascii=False).encode("utf-8")
