"""Shared generated districts (small, so the suite stays fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
from platform_helpers import make

from phwarehouse.platform.dirty import DirtyConfig


@pytest.fixture(scope="session")
def dirty_dir(tmp_path_factory) -> Path:
    return make(tmp_path_factory.mktemp("dirty"))


@pytest.fixture(scope="session")
def clean_dir(tmp_path_factory) -> Path:
    return make(
        tmp_path_factory.mktemp("clean"), seed=11, residents=5000, dirty=DirtyConfig.clean()
    )
