"""What tasks need at run time, read from the environment the Airflow workers get."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from phwarehouse.ingestion.client import PlatformClient


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set on this Airflow worker")
    return value


def warehouse_dsn(role: str) -> str:
    """libpq URL of the warehouse for role loader / transformer / bi."""
    user = _env(f"WAREHOUSE_{role.upper()}_USER")
    password = _env(f"WAREHOUSE_{role.upper()}_PASSWORD")
    host, port, db = _env("WAREHOUSE_HOST"), _env("WAREHOUSE_PORT"), _env("WAREHOUSE_DB")
    return f"postgresql://{quote(user)}:{quote(password, safe='')}@{host}:{port}/{db}"


def platform_client() -> PlatformClient:
    return PlatformClient(
        _env("PLATFORM_API_URL"),
        _env("PLATFORM_API_TOKEN"),
        page_size=int(os.environ.get("PLATFORM_PAGE_SIZE", "5000")),
        timeout=float(os.environ.get("PLATFORM_TIMEOUT_SECONDS", "30")),
    )


def drop_dir() -> Path:
    return Path(_env("PHW_DROP_DIR"))
