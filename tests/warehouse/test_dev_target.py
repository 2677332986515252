"""A developer's dbt run (target dev, the profile's default) writes prefixed schemas of its own:
the transformer may create them, the BI and quality roles read nothing there, and the
production schemas are left alone (dbt_project/profiles.yml, macros/generate_schema_name.sql)."""

from __future__ import annotations

import psycopg
import pytest
from tests.conftest import run_dbt

pytestmark = pytest.mark.warehouse

DEV_SCHEMA = "dev_probe"  # WAREHOUSE_DEV_SCHEMA: a developer's own prefix


def _relfilenode(conn: psycopg.Connection, relation: str) -> int | None:
    row = conn.execute("select to_regclass(%s)::oid", (relation,)).fetchone()
    if row[0] is None:
        return None
    return conn.execute("select relfilenode from pg_class where oid = %s", (row[0],)).fetchone()[0]


@pytest.fixture(scope="module")
def dev_seed(tmp_path_factory, warehouse_settings, admin_dsn: str):
    """`dbt seed --target dev` of one seed; returns the production seed's storage before/after."""
    with psycopg.connect(admin_dsn) as conn:
        before = _relfilenode(conn, "reference.indicator_catalogue")
    result = run_dbt(
        "seed",
        "--select",
        "indicator_catalogue",
        target=tmp_path_factory.mktemp("dbt_dev"),
        env={**warehouse_settings.warehouse_env(), "WAREHOUSE_DEV_SCHEMA": DEV_SCHEMA},
        dbt_target="dev",
    )
    assert result.returncode == 0, result.stdout[-3000:]
    with psycopg.connect(admin_dsn) as conn:
        after = _relfilenode(conn, "reference.indicator_catalogue")
    yield before, after
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {DEV_SCHEMA}_reference cascade")


def test_dev_run_writes_its_prefixed_schema_owned_by_the_transformer(
    dev_seed, admin_dsn: str, warehouse_settings
) -> None:
    transformer, _ = warehouse_settings.warehouse_role("transformer")
    with psycopg.connect(admin_dsn) as conn:
        owner = conn.execute(
            "select pg_get_userbyid(nspowner) from pg_namespace where nspname = %s",
            (f"{DEV_SCHEMA}_reference",),
        ).fetchone()
        assert owner == (transformer,)
        count = conn.execute(
            f"select count(*) from {DEV_SCHEMA}_reference.indicator_catalogue"
        ).fetchone()[0]
        assert count > 0


def test_dev_run_leaves_the_production_schemas_alone(dev_seed) -> None:
    before, after = dev_seed
    assert before == after


@pytest.mark.parametrize("role", ["bi", "quality"])
def test_bi_and_quality_roles_cannot_read_dev_schemas(dev_seed, warehouse_settings, role) -> None:
    with (
        psycopg.connect(warehouse_settings.warehouse_url(role)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(f"select * from {DEV_SCHEMA}_reference.indicator_catalogue")
