"""`dbt build` (seeds, models, dbt unit tests, data tests) passes on the throwaway warehouse.

Raw tables are created empty the way ingestion creates them, so every model compiles and runs
against the real schema; the dbt unit tests exercise the rules on their own fixtures.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from tests.conftest import run_dbt

from phwarehouse.ingestion import file_drops, raw_store
from phwarehouse.ingestion.contracts import ENTITIES
from phwarehouse.pipeline import dbt_selection

pytestmark = pytest.mark.warehouse


@pytest.fixture(scope="module")
def empty_raw(warehouse_settings, loader_dsn: str) -> None:
    with psycopg.connect(loader_dsn, autocommit=True) as conn:
        raw_store.ensure_ops_tables(conn)
        for entity in ENTITIES:
            raw_store.ensure_entity_table(conn, entity)
        conn.execute(file_drops.POPULATION_DDL)


@pytest.fixture(scope="module")
def built(warehouse_settings, empty_raw, tmp_path_factory) -> tuple[Path, str]:
    target = tmp_path_factory.mktemp("dbt_target")
    # --full-refresh: the incremental models may hold another test's data (raw is wiped)
    result = run_dbt(
        "build", "--full-refresh", target=target, env=warehouse_settings.warehouse_env()
    )
    return target, result.stdout if result.returncode == 0 else "FAILED\n" + result.stdout


def test_dbt_build_passes(built) -> None:
    _, stdout = built
    assert not stdout.startswith("FAILED"), stdout[-6000:]
    assert "ERROR=0" in stdout


def test_bi_role_can_read_the_marts_dbt_built(built, bi_dsn: str) -> None:
    with psycopg.connect(bi_dsn) as conn:
        assert conn.execute("select count(*) from marts.dim_period").fetchone()[0] > 0
        assert conn.execute("select count(*) from marts.dim_indicator").fetchone()[0] == 25


def test_dbt_docs_generate_works(warehouse_settings, built) -> None:
    import json

    target, _ = built
    result = run_dbt("docs", "generate", target=target, env=warehouse_settings.warehouse_env())
    assert result.returncode == 0, result.stdout[-4000:]
    catalog = json.loads((target / "catalog.json").read_text())
    marts = [k for k in catalog["nodes"] if ".fct_" in k or ".dim_" in k]
    assert len(marts) >= 6


def test_table_models_enforce_their_declared_constraints(built, admin_dsn) -> None:
    """Every table model without an enforced contract runs the post-hook enforce_constraints:
    each column its yml declares not_null is a NOT NULL column in PostgreSQL and each declared
    check a CHECK constraint named after its column and expression (and nothing else), so a
    null or a value outside the accepted ones is rejected as it goes in."""
    import json

    target, _ = built
    manifest = json.loads((target / "manifest.json").read_text())
    declared: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for node in manifest["nodes"].values():
        # the tables the post-hook enforce_constraints holds them for (not a contract's)
        if not dbt_selection.is_table_model(node) or dbt_selection.contract_enforced(node):
            continue
        if not node.get("config", {}).get("enabled", True):
            continue
        columns = node["columns"].values()
        declared[(node["schema"], node["alias"])] = (
            {c["name"] for c in columns if any(k["type"] == "not_null" for k in c["constraints"])},
            set(dbt_selection.declared_check_constraints(node)),
        )
    with psycopg.connect(admin_dsn) as conn:
        rows = conn.execute(
            "select n.nspname, c.relname, 'not_null', a.attname from pg_attribute as a"
            " join pg_class as c on c.oid = a.attrelid"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where a.attnum > 0 and not a.attisdropped and a.attnotnull"
            " and n.nspname in ('staging', 'intermediate')"
            " union all select n.nspname, c.relname, 'check', k.conname from pg_constraint as k"
            " join pg_class as c on c.oid = k.conrelid"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where k.contype = 'c' and n.nspname in ('staging', 'intermediate')"
        ).fetchall()
        built_constraints: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        for schema, table, kind, name in rows:
            entry = built_constraints.setdefault((schema, table), (set(), set()))
            entry[0 if kind == "not_null" else 1].add(name)
        assert {k: built_constraints.get(k, (set(), set())) for k in declared} == declared
        assert sum(bool(v[0]) for v in declared.values()) > 30
        assert sum(len(v[1]) for v in declared.values()) > 20
        with pytest.raises(psycopg.errors.NotNullViolation, match="record_id"):
            conn.execute("insert into staging.stg_platform__deaths (record_id) values (null)")
        conn.rollback()
        table = "staging.stg_platform__htn_followups"
        for column in declared[("staging", "stg_platform__htn_followups")][0]:
            conn.execute(f'alter table {table} alter column "{column}" drop not null')
        with pytest.raises(psycopg.errors.CheckViolation, match="followup_mode_check_"):
            conn.execute(f"insert into {table} (followup_mode) values ('letter')")
        conn.rollback()


def test_not_null_columns_fails_with_each_null_column(built, warehouse_settings, admin_dsn) -> None:
    """The model-level not-null test (macros/generic_tests/not_null_columns.sql) passes on the
    built seed entity_names, whose two columns declare a not_null constraint, and fails on
    nulls with one row per column: its name and how many rows are null there."""
    target, _ = built
    env = warehouse_settings.warehouse_env()
    select = ("--select", "entity_names,test_name:not_null_columns")
    assert run_dbt("test", *select, target=target, env=env).returncode == 0
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "insert into reference.entity_names (entity, name_zh)"
            " values (null, '空类型'), (null, null)"
        )
        try:
            result = run_dbt("test", *select, target=target, env=env)
            assert result.returncode != 0
            assert "not_null_columns_entity_names" in result.stdout
            assert "Got 2 results" in result.stdout, result.stdout[-3000:]
            (compiled,) = target.glob("compiled/**/not_null_columns_entity_names_.sql")
            rows = conn.execute(compiled.read_text()).fetchall()
            assert sorted(rows) == [("entity", 2), ("name_zh", 1)]
        finally:
            conn.execute("delete from reference.entity_names where entity is null")
