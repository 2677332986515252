"""The dbt project parses, and its nodes fit Airflow's limits when Cosmos renders them.

Cosmos's watcher mode stores each node's status in an XCom keyed by the node's unique id;
Airflow's XCom key is 512 characters, so long generated test names must get a `name:`.
"""

from __future__ import annotations

import json
import re

import pytest
from tests.conftest import run_dbt

from phwarehouse.pipeline import dbt_selection

DUMMY_ENV = {
    "WAREHOUSE_HOST": "127.0.0.1",
    "WAREHOUSE_PORT": "5432",
    "WAREHOUSE_DB": "warehouse",
    "WAREHOUSE_TRANSFORMER_USER": "u",
    "WAREHOUSE_TRANSFORMER_PASSWORD": "p",
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt_target")
    result = run_dbt("parse", target=target, env=DUMMY_ENV)
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((target / "manifest.json").read_text())


def test_node_ids_fit_airflow_xcom_keys(manifest: dict) -> None:
    too_long = [n for n in manifest["nodes"] if len(n) > 200]
    assert too_long == []


def test_every_mart_is_contracted_and_documented(manifest: dict) -> None:
    marts = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["fqn"][1] == "marts"
    ]
    assert marts
    for node in marts:
        assert node["config"]["contract"]["enforced"], node["name"]
        assert node["description"], node["name"]
        for column in node["columns"].values():
            assert column["description"], f"{node['name']}.{column['name']}"


def _primary_key(model: dict) -> list[str]:
    """The columns of a model's primary key constraint (model-level or on a column)."""
    on_columns = [
        name
        for name, column in model["columns"].items()
        if any(c["type"] == "primary_key" for c in column.get("constraints", []))
    ]
    on_model = [
        c for k in model.get("constraints", []) if k["type"] == "primary_key" for c in k["columns"]
    ]
    return on_columns + on_model


def test_every_mart_has_an_enforced_primary_key(manifest: dict) -> None:
    """Superset and the exports read the marts by key: each declares a primary key in its
    contract (enforced: test_every_mart_is_contracted_and_documented), so PostgreSQL refuses a
    duplicate or null key as the mart is built."""
    marts = [n for n in _models(manifest) if n["fqn"][1] == "marts"]
    assert len(marts) > 10
    for node in marts:
        assert _primary_key(node), node["name"]


def _unique_indexes(model: dict) -> list[list[str]]:
    """The column lists of a model's unique indexes (config `indexes`, dbt-postgres)."""
    indexes = model.get("config", {}).get("indexes") or []
    return [list(index["columns"]) for index in indexes if index.get("unique")]


def _models(manifest: dict) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def _pre_hooks(node: dict) -> str:
    return " ".join(h["sql"] for h in node["config"].get("pre-hook", []))


_MACRO_SIGNATURE = re.compile(r"\{%-?\s*(?:macro|test)\s+\w+\s*\(([^)]*)\)")


def test_every_project_macro_and_argument_is_documented(manifest: dict) -> None:
    """macros/_macros.yml describes every macro of the project and each of its arguments."""
    macros = [m for m in manifest["macros"].values() if m["package_name"] == "public_health"]
    assert len(macros) >= 30
    gaps = []
    for macro in macros:
        if not macro["description"].strip():
            gaps.append(macro["name"])
        signature = _MACRO_SIGNATURE.search(macro["macro_sql"])
        assert signature, macro["name"]
        names = [a.split("=")[0].strip() for a in signature.group(1).split(",") if a.strip()]
        documented = {a["name"]: a.get("description", "") for a in macro["arguments"]}
        gaps += [f"{macro['name']}({a})" for a in names if not documented.get(a, "").strip()]
    assert gaps == []


def test_incremental_staging_models_read_new_loads_and_drop_tombstones(manifest: dict) -> None:
    """An incremental staging model without the tombstone pre-hook would keep deleted records."""
    staging = [m for m in _models(manifest) if m["fqn"][1] == "staging"]
    incremental = [m for m in staging if m["config"]["materialized"] == "incremental"]
    assert len(incremental) >= 20
    for model in incremental:
        assert model["config"]["unique_key"] == "record_id", model["name"]
        assert ["record_id"] in _unique_indexes(model), model["name"]
        assert "staging_loaded_since()" in model["raw_code"], model["name"]
        assert "staging_delete_tombstoned(" in _pre_hooks(model), model["name"]


def test_person_window_models_delete_their_scope_and_record_their_watermark(
    manifest: dict,
) -> None:
    """The person-window models share one config (person_window_config): dbt's incremental
    materialization with the strategy 'person_window', whose SQL deletes the run's scope and
    inserts the new rows; the primary key, person first, makes any overlap an error."""
    scoped = [m for m in _models(manifest) if "person_window_state(" in m["raw_code"]]
    assert {m["name"] for m in scoped} >= {
        "int_records__person_window_spans",
        "int_chronic__htn_t2d_windows",
        "int_elderly__person_windows",
        "int_child__tcm_windows",
        "int_child__vaccination_due_doses",
        "int_child__vaccination_windows",
        "int_chronic__smd_windows",
        "int_elderly__exam_completeness",
    }
    for model in scoped:
        assert "config(**person_window_config())" in model["raw_code"], model["name"]
        assert model["config"]["materialized"] == "incremental", model["name"]
        assert model["config"]["incremental_strategy"] == "person_window", model["name"]
        assert model["config"]["unique_key"] is None, model["name"]
        # the scope is deleted by the strategy, after the build, in its transaction
        assert "person_window" not in _pre_hooks(model), model["name"]
        assert model["config"]["contract"]["enforced"], model["name"]
        primary_keys = [c["columns"] for c in model["constraints"] if c["type"] == "primary_key"]
        assert [k[0] for k in primary_keys] == ["person_sk"], model["name"]
        # and the window: period_key, or the first window end of a span of windows; a model
        # whose rows are not one per window is recomputed whole when periods start or go
        assert {"period_key", "first_period_end"} & set(primary_keys[0]) or (
            "person_window_state(periods=true)" in model["raw_code"]
        ), model["name"]
        assert "person_window_build_columns(state)" in model["raw_code"], model["name"]
        assert {"inputs_loaded_through", "data_cutoff_date"} <= set(model["columns"]), model["name"]
        # the previous build's state is read through an index, not a scan of the table
        assert {"columns": ["inputs_loaded_through", "data_cutoff_date"]} in [
            {"columns": i["columns"]} for i in model["config"]["indexes"]
        ], model["name"]
    strategy = manifest["macros"]["macro.public_health.get_incremental_person_window_sql"]
    assert set(strategy["depends_on"]["macros"]) >= {
        "macro.public_health.person_window_state",
        # the mode checks shared with the change-scope strategies
        "macro.public_health.change_scope_strategy_state",
        "macro.public_health.person_window_scope_persons",
        "macro.public_health.person_window_new_windows",
        "macro.dbt.get_incremental_append_sql",
    }
    sql = " ".join(strategy["macro_sql"].split())
    assert "truncate {{ target }}" in sql
    assert "delete from {{ target }} where person_sk = any(array(" in sql
    assert "person_sk('scope.person_key')" in sql  # the scope's persons, by their surrogate
    assert "split(" not in " ".join(
        m["macro_sql"] for m in manifest["macros"].values() if m["name"].startswith("person_window")
    )


def test_child_keyed_models_delete_their_children_through_the_key(manifest: dict) -> None:
    """int_child__health_check_windows is incremental by child (macros/child_key_scope.sql):
    its strategy deletes the children the model selected (rows with a null period_key in its
    temp relation) through the unique index on its key, and it carries the person-window
    tables' build columns and mode comment."""
    model = manifest["nodes"]["model.public_health.int_child__health_check_windows"]
    assert "config(**change_scope_config(\n    'child_key_scope'," in model["raw_code"]
    assert model["config"]["materialized"] == "incremental"
    assert model["config"]["incremental_strategy"] == "child_key_scope"
    assert "child_key_scope_state()" in model["raw_code"]
    assert "person_window_build_columns(state, built_at=true)" in model["raw_code"]
    indexes = [i["columns"] for i in model["config"]["indexes"]]
    assert indexes[0] == ["inputs_loaded_through", "data_cutoff_date"]
    assert _unique_indexes(model) == [["child_key", "period_key"]]
    assert model["config"]["meta"]["tests_scope"] == {"column": "built_at", "kind": "loaded_after"}
    strategy = manifest["macros"]["macro.public_health.get_incremental_child_key_scope_sql"]
    assert set(strategy["depends_on"]["macros"]) >= {
        "macro.public_health.change_scope_strategy_state",
        "macro.public_health.child_key_scope_state",
    }
    # the scope the model selected, handed over in its temp relation: never selected again
    assert "macro.public_health.child_key_scope" not in strategy["depends_on"]["macros"]
    assert "child_key_scope(state)" in model["raw_code"]
    sql = " ".join(strategy["macro_sql"].split())
    assert "truncate {{ target }}" in sql
    assert "where child_key = any(array( select scope.child_key from {{ temp }} as scope" in sql
    assert "where period_key is not null" in sql  # the scope's rows are never stored


@pytest.mark.parametrize(
    ("name", "strategy", "deletes"),
    [
        # the recomputed records, and the records deleted on the platform since
        (
            "int_service_records",
            "record_scope",
            (
                # one IN over a union, which the key's index serves (not two INs or-ed)
                "from {{ temp }} as recomputed union all select changed.entity",
                "from {{ ref('stg_platform__record_versions') }} as changed",
            ),
        ),
        # the persons in scope, whether or not they still have a row
        ("int_persons", "person_scope", ("person_key in ({{ person_scope_persons(state) }})",)),
    ],
)
def test_change_scope_models_record_their_state_and_scope_their_tests(
    manifest: dict, name: str, strategy: str, deletes: tuple[str, ...]
) -> None:
    """int_service_records and int_persons are incremental by change scope
    (macros/change_scope.sql): each reads its previous build's state through an index on its
    build columns, its strategy deletes what the run recomputes, and its data tests check the
    rows a run wrote (they carry that run's built_at)."""
    model = manifest["nodes"][f"model.public_health.{name}"]
    assert model["config"]["materialized"] == "incremental"
    assert model["config"]["incremental_strategy"] == strategy
    assert f"config(**change_scope_config('{strategy}'" in model["raw_code"]
    assert "change_scope_state()" in model["raw_code"]
    assert f"/* {strategy}_mode: " in model["raw_code"]
    assert {"inputs_loaded_through", "data_cutoff_date", "built_at"} <= set(model["columns"])
    assert "change_scope_build_columns(built_at=true)" in model["raw_code"]
    indexes = [i["columns"] for i in model["config"]["indexes"]]
    assert indexes[0] == ["inputs_loaded_through", "data_cutoff_date"]
    # the person-window models read the service records of their scope by person, and those
    # dated between two cut-offs by date
    if name == "int_service_records":
        assert indexes[1:] == [["entity", "record_id"], ["person_key"], ["service_date"]]
        assert _unique_indexes(model) == [["entity", "record_id"]]  # the key its delete uses
    # the rows a run wrote: also those rewritten because the cut-off moved, or all of them
    assert model["config"]["meta"]["tests_scope"] == {"column": "built_at", "kind": "loaded_after"}
    macro = manifest["macros"][f"macro.public_health.get_incremental_{strategy}_sql"]
    assert set(macro["depends_on"]["macros"]) >= {
        "macro.public_health.change_scope_strategy_state",
        "macro.dbt.get_incremental_append_sql",
    }
    sql = " ".join(macro["macro_sql"].split())
    assert "truncate {{ target }}" in sql
    for part in deletes:
        assert part in sql, part


def test_every_table_model_has_a_tested_or_enforced_key(manifest: dict) -> None:
    tests_on: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            name = (node.get("test_metadata") or {}).get("name", "")
            for uid in node["depends_on"]["nodes"]:
                tests_on.setdefault(uid, set()).add(name)
    missing = []
    for model in _models(manifest):
        if not dbt_selection.is_table_model(model):
            continue
        enforced_key = (
            bool(_primary_key(model)) and dbt_selection.contract_enforced(model)
        ) or _unique_indexes(model)
        tested = tests_on.get(model["unique_id"], set())
        if not (enforced_key or "unique_combination_of_columns" in tested or "unique" in tested):
            missing.append(model["name"])
    assert missing == []


def test_not_null_columns_are_declared_as_constraints_and_checked_once(manifest: dict) -> None:
    """A not-null column of a model or seed declares a not_null constraint. PostgreSQL
    enforces it on a table (an enforced contract, or the post-hook enforce_constraints,
    which every table model runs): no data test checks it again. A view or seed has one
    model-level not_null_columns test that checks them all, and no per-column not_null test; a
    not_null_columns test is only attached where it has something to check. A conditional
    not-null (a not_null test with a `where`) stays a test of its own."""
    tested: dict[str, list[str]] = {}  # node -> generic tests attached to it
    per_column: list[str] = []
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] != "test" or not node.get("attached_node"):
            continue
        tested.setdefault(node["attached_node"], []).append(meta.get("name", ""))
        if meta.get("name") == "not_null" and not node["config"].get("where"):
            per_column.append(node["attached_node"])
    gaps = []
    enforced_declared = 0
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed"):
            continue
        declared = [
            c["name"]
            for c in node["columns"].values()
            if any(k["type"] == "not_null" for k in c.get("constraints", []))
        ]
        checks = tested.get(uid, []).count("not_null_columns")
        if dbt_selection.constraints_enforced(node):
            enforced_declared += bool(declared)
            expected = 0
            hooks = " ".join(h["sql"] for h in node["config"].get("post-hook", []))
            if not dbt_selection.contract_enforced(node) and "enforce_constraints()" not in hooks:
                gaps.append((node["name"], "no enforce_constraints post-hook"))
        else:
            expected = 1 if declared else 0
        if checks != expected:
            gaps.append((node["name"], len(declared), checks))
        if uid in per_column:
            gaps.append((node["name"], "per-column not_null test"))
    assert gaps == []
    assert enforced_declared > 50
    assert sum(v.count("not_null_columns") for v in tested.values()) > 10


def test_what_postgresql_enforces_is_not_also_tested(manifest: dict) -> None:
    """Declared once: what PostgreSQL checks as the rows go in is not checked again by a data
    test (each would be one more node in every build) — on a table (an enforced contract, or
    the post-hook enforce_constraints) a column's not_null, unique or primary_key constraint
    and its accepted values (a check constraint), and a unique index's columns (config
    `indexes`). A check constraint is declared on a table only (on a view or seed PostgreSQL
    would not hold it, and no test would check it)."""
    repeats = {"not_null": {"not_null", "primary_key"}, "unique": {"unique", "primary_key"}}
    repeated = []
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        model = manifest["nodes"].get(node.get("attached_node") or "", {})
        name = meta.get("name")
        if node["resource_type"] != "test" or node["config"].get("where") or not model:
            continue
        if not dbt_selection.constraints_enforced(model):
            continue
        if name == "accepted_values":
            repeated.append(node["name"])
        if name in repeats:
            column = model["columns"].get(node["column_name"], {})
            declared = {c["type"] for c in column.get("constraints", [])}
            # without a contract, enforce_constraints applies not_null (and checks) only
            enforced = (
                declared if dbt_selection.contract_enforced(model) else declared & {"not_null"}
            )
            if repeats[name] & enforced:
                repeated.append(node["name"])
        if name == "unique":
            keys = [node["column_name"]]
        elif name == "unique_combination_of_columns":
            keys = list(meta["kwargs"]["combination_of_columns"])
        else:
            keys = []
        if keys and sorted(keys) in [sorted(c) for c in _unique_indexes(model)]:
            repeated.append(node["name"])
    assert repeated == []
    assert sum(bool(_unique_indexes(m)) for m in _models(manifest)) > 20
    checks = [
        (node["name"], prefix, constraint, dbt_selection.constraints_enforced(node))
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
        for prefix, constraint in [
            *(("check", c) for c in node.get("constraints", [])),
            *((n, c) for n, column in node["columns"].items() for c in column["constraints"]),
        ]
        if constraint["type"] == "check"
    ]
    # a check on a view or seed would be neither enforced nor tested
    assert [c[:2] for c in checks if not c[3]] == []
    assert len(checks) > 25
    # the names declared_check_constraints gives fit PostgreSQL's 63 bytes (a longer one
    # would be cut, never match the yml's, and be dropped and added again in every run)
    names = [
        name
        for node in manifest["nodes"].values()
        if dbt_selection.constraints_enforced(node)
        for name in dbt_selection.declared_check_constraints(node)
    ]
    assert len(names) == len(checks)
    assert max(len(n.encode()) for n in names) <= 63


def test_unique_indexes_are_on_not_null_columns(manifest: dict) -> None:
    """A unique index lets rows through whose key has a null (nulls are distinct there), where
    a unique test groups them: each column of a table's unique index is declared not null
    (a NOT NULL column: an enforced contract or the post-hook enforce_constraints)."""
    nullable = []
    for model in _models(manifest):
        if not dbt_selection.is_table_model(model):
            continue
        for columns in _unique_indexes(model):
            for name in columns:
                constraints = model["columns"].get(name, {}).get("constraints", [])
                if not {"not_null", "primary_key"} & {c["type"] for c in constraints}:
                    nullable.append((model["name"], name))
    assert nullable == []


def test_field_issues_are_read_from_every_platform_entity(manifest: dict) -> None:
    """stg_platform__field_issues lists its entities by hand: every source table that holds
    platform records (all but the statistics bureau's file) must be in it."""
    from phwarehouse.platform import schema

    node = manifest["nodes"]["model.public_health.stg_platform__field_issues"]
    read = {s.split(".")[-1] for s in node["depends_on"]["nodes"] if s.startswith("source.")}
    assert read == set(schema.ENTITIES)


def test_only_staging_reads_sources(manifest: dict) -> None:
    """dbt layering: the raw tables (sources) are read by staging models alone; intermediate
    models, marts and the macros they call read staging through ref() (issue #13)."""
    macros = {
        uid: m for uid, m in manifest["macros"].items() if m["package_name"] == "public_health"
    }

    def calls_source(uid: str, seen: set[str]) -> bool:
        if uid in seen or uid not in macros:
            return False
        seen.add(uid)
        macro = macros[uid]
        return re.search(r"\bsource\s*\(", macro["macro_sql"]) is not None or any(
            calls_source(m, seen) for m in macro["depends_on"]["macros"]
        )

    readers = []
    for model in _models(manifest):
        if model["fqn"][1] == "staging":
            continue
        sources = [n for n in model["depends_on"]["nodes"] if n.startswith("source.")]
        via_macros = [m for m in model["depends_on"]["macros"] if calls_source(m, set())]
        if sources or via_macros:
            readers.append((model["name"], sources, via_macros))
    assert readers == []
