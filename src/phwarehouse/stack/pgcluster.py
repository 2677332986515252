"""The project-local PostgreSQL cluster: initdb, start, stop, status.

`initdb` refuses to run as root, so when we are root the cluster belongs to an unprivileged
system user (`phwpg` by default) and every server command runs through `runuser`. That user
must reach its data directory: `$PHW_HOME/pgdata` when it can traverse every parent of the
stack's home, else `/var/lib/phwarehouse/<hash of the home's path>/pgdata` (e.g. a checkout
in root's home, mode 0700). `PHW_PGDATA` overrides both.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from phwarehouse.settings import Settings

PG_OS_USER = os.environ.get("PHW_PG_OS_USER", "phwpg")
# where clusters live whose stack home the cluster owner cannot reach
OUTSIDE_ROOT = Path(os.environ.get("PHW_PG_STATE_ROOT", "/var/lib/phwarehouse"))


class ClusterError(RuntimeError):
    """The local cluster could not be set up or started; the message says what to do."""


def pg_bindir() -> Path:
    """Directory holding initdb/pg_ctl (Debian keeps them out of PATH)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if candidates:
        return candidates[0].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise ClusterError(
        "PostgreSQL server binaries not found: `make setup` installs them "
        "(apt-get install postgresql), or set PHW_PG_ADMIN_URL to use an existing server."
    )


def _owner_ids(user: str) -> tuple[int | None, set[int]]:
    """(uid, group ids) of `user`; (None, set()) when it does not exist yet (created later as a
    system user: then it is in no group but its own, i.e. "other" for existing folders)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None, set()
    groups = {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    return entry.pw_uid, groups | {entry.pw_gid}


def can_traverse(path: Path, uid: int | None, gids: set[int]) -> bool:
    """True when a user (uid, gids) may search every folder from / down to `path` itself
    (permission bits; ACLs are not consulted)."""
    if uid == 0:
        return True
    for folder in [*reversed(path.parents), path]:
        try:
            st = folder.stat()
        except FileNotFoundError:
            return True  # created later, by us, with a mode we choose
        if uid is not None and st.st_uid == uid:
            bit = 0o100
        elif st.st_gid in gids:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return False
    return True


def outside_data_dir(home: Path) -> Path:
    """The data directory used when the cluster owner cannot reach `home` (stable per home)."""
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    return OUTSIDE_ROOT / digest / "pgdata"


def default_data_dir(home: Path, euid: int | None = None, owner: str = PG_OS_USER) -> Path:
    """Where the cluster of the stack at `home` lives unless PHW_PGDATA says otherwise.

    `home/pgdata` when we are not root (the cluster is ours) or when `owner` can traverse the
    parents of `home` (the stack gives `home` itself mode 0711); otherwise `outside_data_dir`.
    An existing cluster stays where it is.
    """
    inside = home / "pgdata"
    if (os.geteuid() if euid is None else euid) != 0:
        return inside
    outside = outside_data_dir(home)
    if (inside / "PG_VERSION").exists():
        return inside
    if (outside / "PG_VERSION").exists():
        return outside
    uid, gids = _owner_ids(owner)
    return inside if can_traverse(home.parent, uid, gids) else outside


def is_outside(settings: Settings) -> bool:
    """True when the cluster lives in the place chosen for an unreachable checkout."""
    return settings.pgdata == outside_data_dir(settings.home)


def owner_lives_in_home(settings: Settings) -> bool:
    """True when another user's cluster lives under the stack's home (home must stay 0711)."""
    return (
        settings.pg.local
        and os.geteuid() == 0
        and settings.pgdata.resolve().is_relative_to(settings.home.resolve())
    )


def cluster_owner() -> str:
    """OS user that owns the cluster: ourselves, or an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(PG_OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_OS_USER],
            check=True,
        )
    return PG_OS_USER


def _as_owner(cmd: list[str], owner: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", owner, "--", *cmd]
    return cmd


def _check_traversable(path: Path, owner: str) -> None:
    """Fail clearly when the cluster owner cannot reach `path` (e.g. a 0700 parent)."""
    if os.geteuid() != 0:
        return
    probe = subprocess.run(
        _as_owner(["test", "-w", str(path)], owner), capture_output=True, check=False
    )
    if probe.returncode != 0:
        raise ClusterError(
            f"user {owner} cannot write {path}: a parent folder is not traversable "
            f"(chmod o+x the parents) or set PHW_PGDATA to a folder it can reach "
            f"(unset, the stack chooses {OUTSIDE_ROOT}/… for an unreachable checkout)."
        )


def is_initialised(settings: Settings) -> bool:
    return (settings.pgdata / "PG_VERSION").exists()


def init_cluster(settings: Settings) -> bool:
    """Create the cluster if missing. Returns True when it was created now."""
    if is_initialised(settings):
        return False
    owner = cluster_owner()
    pgdata = settings.pgdata
    if is_outside(settings):
        # /var/lib/phwarehouse (root's, traversable) / <hash> (the owner's, private) / pgdata
        OUTSIDE_ROOT.mkdir(mode=0o711, parents=True, exist_ok=True)
        pgdata.parent.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(pgdata.parent, owner, owner)
    elif owner_lives_in_home(settings):
        settings.home.chmod(0o711)  # traversable by the owner, not listable
    pgdata.mkdir(parents=True, exist_ok=True)
    pgdata.chmod(0o700)
    if os.geteuid() == 0:
        shutil.chown(pgdata, owner, owner)
    _check_traversable(pgdata, owner)
    with tempfile.NamedTemporaryFile("w", delete=False, prefix="phwpw") as pw:
        pw.write(settings.pg.admin_password + "\n")
    try:
        os.chmod(pw.name, 0o644)
        subprocess.run(
            _as_owner(
                [
                    str(pg_bindir() / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    settings.pg.admin_user,
                    f"--pwfile={pw.name}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    # the same order as C.UTF-8 (code points, which is UTF-8's byte order),
                    # but PostgreSQL sorts "C" text with memcmp and abbreviated keys instead of
                    # strcoll: dbt's sorts and indexes on the hex person keys
                    "--lc-collate=C",
                ],
                owner,
            ),
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        raise ClusterError(f"initdb failed: {exc.stderr or exc.stdout}") from exc
    finally:
        os.unlink(pw.name)
    conf = pgdata / "conf.d"
    conf.mkdir(exist_ok=True)
    (conf / "phwarehouse.conf").write_text(
        "\n".join(
            [
                "# Written by phwarehouse: a local analytics cluster on loopback only.",
                "listen_addresses = '127.0.0.1'",
                "unix_socket_directories = ''",
                "max_connections = 200",
                "shared_buffers = '512MB'",
                "work_mem = '64MB'",
                "maintenance_work_mem = '512MB'",
                "synchronous_commit = off",
                # a single-node cluster with no replica and no WAL archive: a table created
                # and filled in one transaction (dbt's `create table as`, every whole-table
                # model of every run) is synced at commit instead of written to the WAL too
                # (bench_dbt.py at 100 k: one-day build 15.8-16.2 -> 13.7-13.9 s, PostgreSQL
                # 14.3-14.8 -> 11.7-12.2 s of CPU). A deployment that streams or archives WAL
                # sets replica.
                "wal_level = minimal",
                "max_wal_senders = 0",
                "jit = off",  # JIT plans stacked dbt views badly (seconds -> tens of seconds)
                "max_wal_size = '4GB'",
                "checkpoint_timeout = '15min'",
                "log_min_duration_statement = 5000",
                "",
            ]
        ),
        encoding="utf-8",
    )
    with (pgdata / "postgresql.conf").open("a", encoding="utf-8") as fh:
        fh.write("\ninclude_dir = 'conf.d'\n")
    if os.geteuid() == 0:
        for path in [conf, conf / "phwarehouse.conf"]:
            shutil.chown(path, owner, owner)
    return True


def is_running(settings: Settings) -> bool:
    if not is_initialised(settings):
        return False
    result = subprocess.run(
        _as_owner(
            [str(pg_bindir() / "pg_ctl"), "-D", str(settings.pgdata), "status"], cluster_owner()
        ),
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def start(settings: Settings) -> bool:
    """Start the cluster on PHW_PG_PORT if it is not running. Returns True when started now."""
    if is_running(settings):
        return False
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    owner = cluster_owner()
    log = settings.pgdata / "server.log"
    result = subprocess.run(
        _as_owner(
            [
                str(pg_bindir() / "pg_ctl"),
                "-D",
                str(settings.pgdata),
                "-l",
                str(log),
                "-o",
                f"-p {settings.pg.port}",
                "-w",
                "-t",
                "60",
                "start",
            ],
            owner,
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise ClusterError(
            f"PostgreSQL did not start on port {settings.pg.port}: {result.stderr.strip()}\n{tail}"
        )
    return True


def stop(settings: Settings) -> bool:
    """Stop the cluster (fast mode). Returns True when it was running."""
    if not is_running(settings):
        return False
    subprocess.run(
        _as_owner(
            [str(pg_bindir() / "pg_ctl"), "-D", str(settings.pgdata), "-m", "fast", "-w", "stop"],
            cluster_owner(),
        ),
        capture_output=True,
        check=True,
    )
    return True
