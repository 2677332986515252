"""Shared fixtures: a throwaway PostgreSQL cluster (free port, temp folder) for the session."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

# Airflow reads its configuration at import: keep pytest's Airflow away from ~/airflow.
if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="phw-airflow-home-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from phwarehouse.settings import Settings, load_settings
from phwarehouse.stack import manage, pgcluster
from phwarehouse.stack.processes import free_port


def make_test_settings(**overrides: str) -> Settings:
    """Settings for a throwaway stack: its own home, free ports, no .env from the developer."""
    home = Path(tempfile.mkdtemp(prefix="phw-test-"))
    home.chmod(0o755)  # the unprivileged cluster owner must reach pgdata
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("PHW_", "WAREHOUSE_", "AIRFLOW"))
    }
    environ.update(
        {
            "PHW_HOME": str(home),
            "PHW_PG_PORT": str(free_port()),
            "PHW_AIRFLOW_PORT": str(free_port()),
            "PHW_SUPERSET_PORT": str(free_port()),
            "PHW_PLATFORM_PORT": str(free_port()),
            "PHW_AIRFLOW_HEALTH_PORT": str(free_port()),
            **overrides,
        }
    )
    return load_settings(home, environ)


@pytest.fixture(scope="session")
def warehouse_settings() -> Iterator[Settings]:
    """A started, provisioned throwaway cluster; stopped and removed after the session."""
    settings = make_test_settings()
    try:
        manage.start_database(settings)
        yield settings
    finally:
        manage.down(settings)
        pgcluster.stop(settings)
        shutil.rmtree(settings.home, ignore_errors=True)


@pytest.fixture(scope="session")
def admin_dsn(warehouse_settings: Settings) -> str:
    return warehouse_settings.pg.admin_url(warehouse_settings.warehouse_db)


@pytest.fixture(scope="session")
def loader_dsn(warehouse_settings: Settings) -> str:
    return warehouse_settings.warehouse_url("loader")


@pytest.fixture(scope="session")
def transformer_dsn(warehouse_settings: Settings) -> str:
    return warehouse_settings.warehouse_url("transformer")


@pytest.fixture(scope="session")
def bi_dsn(warehouse_settings: Settings) -> str:
    return warehouse_settings.warehouse_url("bi")


def wipe_raw(admin_dsn: str) -> None:
    """Drop every table of the raw and ops schemas (ingestion recreates them)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for schema in ("raw", "ops"):
            tables = conn.execute(
                "select tablename from pg_tables where schemaname = %s", (schema,)
            ).fetchall()
            for (table,) in tables:
                conn.execute(f'drop table if exists {schema}."{table}" cascade')


#: marts stamped by the build itself (its publication record), left out of row comparisons
BUILD_STAMPED_MARTS = ("dashboard_publication",)


def mart_rows(admin_dsn: str, schema: str) -> dict[str, list[str]]:
    """Every table of `schema` but the build-stamped ones, its rows as sorted reprs."""
    with psycopg.connect(admin_dsn) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s"
                " and table_type = 'BASE TABLE' order by 1",
                (schema,),
            ).fetchall()
            if t not in BUILD_STAMPED_MARTS
        ]
        return {
            t: sorted(map(repr, conn.execute(f'select * from "{schema}"."{t}"').fetchall()))
            for t in tables
        }


DBT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


#: the dbt target of the tests (dbt_project/profiles.yml): schema names verbatim, as the pipeline's
#: `prod`, so the tests query staging / intermediate / marts of their throwaway cluster, and the
#: CI-only macro harnesses (models/intermediate/macro_checks) built with their unit and data tests
TEST_DBT_TARGET = "ci"


def run_dbt(
    *args: str,
    target: Path,
    env: dict[str, str],
    dbt_target: str = TEST_DBT_TARGET,
    project: Path = DBT_DIR,
) -> subprocess.CompletedProcess:
    """Run dbt (of this venv) on the project (or a copy of it) with its own target/log folder
    and `env` added; `dbt_target` is the profile's target (`--target`), `ci` unless a test says
    otherwise."""
    return subprocess.run(
        [
            str(Path(sys.prefix) / "bin" / "dbt"),
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target",
            dbt_target,
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
