"""The outbox: one folder per kind and period (`<PHW_EXPORT_DIR>/bulletin/2026-11/`), files 0600
in folders 0700, a manifest (file, SHA-256, period, publication id, generated at).

A period is rebuilt atomically: the files are written into a hidden sibling folder, then the two
folders are exchanged in one `renameat2(RENAME_EXCHANGE)` (Linux; elsewhere two renames), so a
reader sees either the old complete set or the new one, never a mix.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from phwarehouse.quality.publication import Publication

MANIFEST = "manifest.json"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False when unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


@contextmanager
def building(final: Path) -> Iterator[Path]:
    """Yield an empty private staging folder; on success it replaces `final` atomically, on
    error it is removed and `final` is left as it was."""
    parent = private_dir(final.parent)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.new-", dir=parent))
    stage.chmod(0o700)
    try:
        yield stage
        for f in stage.iterdir():
            f.chmod(0o600)
        if final.exists():
            if not _exchange(stage, final):
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=parent))
                os.rename(final, old / final.name)
                os.rename(stage, final)
                stage = old
        else:
            os.rename(stage, final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_manifest(
    folder: Path,
    kind: str,
    period: str,
    publication: Publication,
    generated_at: datetime,
    files: list[Path],
) -> Path:
    manifest = {
        "kind": kind,
        "period": period,
        "publication_id": publication.publication_id,
        "data_cutoff_date": publication.data_cutoff_date.isoformat(),
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "files": [{"file": f.name, "sha256": sha256(f), "bytes": f.stat().st_size} for f in files],
    }
    path = folder / MANIFEST
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    return path


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def verify(folder: Path) -> list[str]:
    """Problems with a period folder: files missing or differing from the manifest."""
    problems = []
    for entry in read_manifest(folder)["files"]:
        f = folder / entry["file"]
        if not f.exists():
            problems.append(f"{entry['file']}: missing")
        elif sha256(f) != entry["sha256"]:
            problems.append(f"{entry['file']}: SHA-256 differs from the manifest")
    return problems
