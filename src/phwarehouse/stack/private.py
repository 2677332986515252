"""Least exposure on disk: personal data and secrets readable by the stack's user only.

The platform feed (names, ID numbers, phones), the drop folders, logs that may quote records,
and the credentials file are files 0600 in folders 0700. Processes the stack starts run with
umask 077 (processes.start, the simulator's generator); `make_private` also mends trees an
earlier version left readable.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077


def make_private(root: Path) -> None:
    """Folders 0700 and files 0600 under `root` (itself included); owner's x bits kept on files.

    Only entries this user owns are changed (a cluster folder owned by its own user is left to
    PostgreSQL). Symbolic links are not followed.
    """
    if not root.exists():
        return
    uid = os.geteuid()
    for path in [root, *root.rglob("*")]:
        with contextlib.suppress(FileNotFoundError):
            st = path.lstat()
            if st.st_uid != uid or stat.S_ISLNK(st.st_mode):
                continue
            mode = stat.S_IMODE(st.st_mode)
            wanted = 0o700 if stat.S_ISDIR(st.st_mode) else mode & 0o700 | 0o600
            if mode != wanted:
                path.chmod(wanted)


def private_home(home: Path, cluster_inside: bool) -> None:
    """The stack's home: 0700, or 0711 when another user's cluster lives inside it (it must
    traverse the folder, but cannot list or read anything else in it)."""
    if not home.exists() or home.stat().st_uid != os.geteuid():
        return
    home.chmod(0o711 if cluster_inside else 0o700)
