"""Where the local cluster's data directory lives (issue #9, item 9): inside the stack's home
when the cluster's owner can reach it, else in a place it can (a checkout in root's home)."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from phwarehouse.settings import load_settings
from phwarehouse.stack import pgcluster

OWNER = "nobody"  # an unprivileged user that exists on every Debian machine


@pytest.fixture
def nobody() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(OWNER)
    except KeyError:
        pytest.skip("no user `nobody`")


@pytest.fixture
def base():
    """A folder everyone may traverse (pytest's tmp_path lies in a 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="phw-pgdata-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _checkout(folder: Path, parent_mode: int) -> Path:
    parent = folder / "home-of-someone"
    home = parent / "warehouse" / ".local"
    home.mkdir(parents=True)
    parent.chmod(parent_mode)
    return home


def test_not_root_keeps_the_cluster_in_the_home(tmp_path) -> None:
    home = _checkout(tmp_path, 0o700)
    assert pgcluster.default_data_dir(home, euid=1000, owner=OWNER) == home / "pgdata"


def test_a_traversable_checkout_keeps_the_cluster_in_the_home(base, nobody) -> None:
    home = _checkout(base, 0o755)
    assert pgcluster.default_data_dir(home, euid=0, owner=OWNER) == home / "pgdata"


def test_a_checkout_in_a_0700_folder_moves_the_cluster_out(base, nobody) -> None:
    """`git clone … /root/warehouse && make run` as root: /root is 0700."""
    base.chmod(0o755)
    home = _checkout(base, 0o700)
    chosen = pgcluster.default_data_dir(home, euid=0, owner=OWNER)
    assert chosen == pgcluster.outside_data_dir(home)
    assert chosen.is_relative_to(pgcluster.OUTSIDE_ROOT) and chosen.name == "pgdata"
    assert pgcluster.can_traverse(pgcluster.OUTSIDE_ROOT.parent, nobody.pw_uid, set())
    # stable for one checkout, different for another
    assert pgcluster.default_data_dir(home, euid=0, owner=OWNER) == chosen
    other = base / "elsewhere" / ".local"
    assert pgcluster.outside_data_dir(other) != chosen


def test_an_existing_cluster_stays_where_it_is(base, nobody) -> None:
    home = _checkout(base, 0o700)
    (home / "pgdata").mkdir()
    (home / "pgdata" / "PG_VERSION").write_text("15\n")
    assert pgcluster.default_data_dir(home, euid=0, owner=OWNER) == home / "pgdata"


def test_group_and_owner_bits_count_for_members(base, nobody) -> None:
    folder = base / "shared"
    folder.mkdir(mode=0o750)
    st = folder.stat()
    assert not pgcluster.can_traverse(folder, nobody.pw_uid, set())
    assert pgcluster.can_traverse(folder, nobody.pw_uid, {st.st_gid})
    assert pgcluster.can_traverse(folder, 0, set())


def test_settings_use_the_decision_and_honour_phw_pgdata(tmp_path) -> None:
    settings = load_settings(tmp_path / "h", {})
    assert settings.pgdata == pgcluster.default_data_dir(settings.home)
    if os.geteuid() != 0:
        assert settings.pgdata == settings.home / "pgdata"
    configured = load_settings(tmp_path / "h", {"PHW_PGDATA": str(tmp_path / "pg")})
    assert configured.pgdata == tmp_path / "pg"
