"""Change-feed files: per-chunk unsorted spill files, then a k-way merge into
``jsonl/<entity>.jsonl`` sorted by (updated_at, record_id) with a byte-offset index."""

from __future__ import annotations

import mmap
from collections import defaultdict
from pathlib import Path

import numpy as np

from phwarehouse.platform.records import Batch

INDEX_DIR = "index"


class ChunkWriter:
    """Appends a chunk's records to spill files and remembers their sort keys."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.handles: dict[str, object] = {}
        self.keys: dict[str, list[tuple[np.ndarray, ...]]] = defaultdict(list)
        self.offset: dict[str, int] = defaultdict(int)

    def write(self, batch: Batch) -> None:
        if not len(batch):
            return
        lines = batch.to_lines()
        entity = batch.entity
        fh = self.handles.get(entity)
        if fh is None:
            fh = self.handles[entity] = (self.folder / f"{entity}.jsonl").open("wb")
        lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
        offsets = self.offset[entity] + np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.offset[entity] += int(lengths.sum())
        fh.write(b"".join(lines))
        self.keys[entity].append(
            (
                np.asarray(batch.updated, dtype=np.int64),
                np.asarray(batch.rid_num, dtype=np.int64),
                offsets,
                lengths,
            )
        )

    def close(self) -> dict[str, int]:
        """Flush files and save keys; returns record counts per entity."""
        counts = {}
        for entity, fh in self.handles.items():
            fh.close()
            parts = self.keys[entity]
            arrays = [np.concatenate([p[i] for p in parts]) for i in range(4)]
            np.save(self.folder / f"{entity}.keys.npy", np.stack(arrays))
            counts[entity] = len(arrays[0])
        return counts


def merge_entity(entity: str, chunk_dirs: list[Path], out_dir: Path) -> int:
    """Merge the chunks' spill files of one entity into the sorted feed and its index."""
    keys, sources = [], []
    for c, folder in enumerate(chunk_dirs):
        path = folder / f"{entity}.keys.npy"
        if path.exists():
            k = np.load(path)
            keys.append(np.vstack([k, np.full((1, k.shape[1]), c, dtype=np.int64)]))
            sources.append(c)
    jsonl = out_dir / "jsonl" / f"{entity}.jsonl"
    jsonl.parent.mkdir(parents=True, exist_ok=True)
    if not keys:
        jsonl.write_bytes(b"")
        write_index(out_dir, entity, np.zeros(0, np.int64), np.zeros(1, np.int64), 0)
        return 0
    allk = np.hstack(keys)
    updated, rid, offset, length, chunk = allk
    order = np.lexsort((rid, updated))
    maps = {}
    files = []
    for c in sources:
        f = (chunk_dirs[c] / f"{entity}.jsonl").open("rb")
        files.append(f)
        size = (chunk_dirs[c] / f"{entity}.jsonl").stat().st_size
        maps[c] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    with jsonl.open("wb", buffering=8 << 20) as out:
        o_l, l_l, c_l = offset[order].tolist(), length[order].tolist(), chunk[order].tolist()
        write = out.write
        for o, ln, c in zip(o_l, l_l, c_l, strict=True):
            write(maps[c][o : o + ln])
    for m in maps.values():
        if isinstance(m, mmap.mmap):
            m.close()
    for f in files:
        f.close()
    ends = np.concatenate([[0], np.cumsum(length[order])])
    write_index(out_dir, entity, updated[order], ends, jsonl.stat().st_size)
    return len(order)


def write_index(
    out_dir: Path, entity: str, updated: np.ndarray, offsets: np.ndarray, size: int
) -> None:
    """``index/<entity>.npz``: updated_at seconds per line, line start offsets (n+1), size."""
    folder = out_dir / INDEX_DIR
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(
        folder / f"{entity}.npz",
        updated=updated.astype(np.int64),
        offsets=offsets.astype(np.int64),
        size=np.array([size], dtype=np.int64),
    )
