"""The transform's run plan (phwarehouse.pipeline.dbt_selection): full or incremental, and what
an incremental run selects, on a small hand-made manifest."""

from __future__ import annotations

import copy
import stat

import pytest

from phwarehouse.pipeline import dbt_selection as sel

P = "public_health"


def _model(name, folder, parents, code="select 1", macros=(), materialized="table"):
    return {
        "resource_type": "model",
        "name": name,
        "alias": name,
        "schema": folder if folder != "marts" else "marts_candidate",
        "fqn": [P, folder, name],
        "raw_code": code,
        "config": {"enabled": True, "materialized": materialized},
        "depends_on": {"nodes": list(parents), "macros": list(macros)},
    }


def _manifest():
    src = {
        "a": "loaded_at",
        "b": "loaded_at",
        "q": None,  # no loaded_at_field: always counts as changed
    }
    sources = {
        f"source.{P}.raw.{n}": {
            "name": n,
            "identifier": n,
            "schema": "raw",
            "loaded_at_field": col,
            "config": {},
        }
        for n, col in src.items()
    }
    nodes = {
        f"model.{P}.{m['name']}": m
        for m in [
            _model("stg_a", "staging", [f"source.{P}.raw.a"]),
            _model("stg_b", "staging", [f"source.{P}.raw.b"]),
            _model("stg_q", "staging", [f"source.{P}.raw.q"]),
            _model(
                "int_x", "intermediate", [f"model.{P}.stg_a"], "where d <= {{ var('x') }}"
            ),  # renders no run var
            _model(
                "int_y",
                "intermediate",
                [f"model.{P}.stg_b"],
                "{{ cut() }}",
                macros=[f"macro.{P}.cut"],
            ),
            _model(
                "int_z",
                "intermediate",
                [f"model.{P}.stg_b"],
                "where d <= '{{ var(\"data_cutoff_date\") }}'",
                materialized="incremental",
            ),
            _model("fct_1", "marts", [f"model.{P}.int_x"]),
            _model("fct_2", "marts", [f"model.{P}.int_y", f"model.{P}.stg_q"]),
        ]
    }
    nodes[f"seed.{P}.targets"] = {
        "resource_type": "seed",
        "name": "targets",
        "alias": "targets",
        "schema": "reference",
        "fqn": [P, "targets"],
        "config": {},
        "depends_on": {"nodes": []},
    }
    nodes[f"test.{P}.not_null_int_x"] = {
        "resource_type": "test",
        "name": "not_null_int_x",
        "fqn": [P, "intermediate", "not_null_int_x"],
        "config": {},
        "depends_on": {"nodes": [f"model.{P}.int_x"]},
    }
    macros = {
        f"macro.{P}.cut": {
            "macro_sql": "{{ inner() }}",
            "depends_on": {"macros": [f"macro.{P}.inner"]},
        },
        f"macro.{P}.inner": {"macro_sql": "{{ var('data_cutoff_date') }}", "depends_on": {}},
    }
    child_map: dict[str, list[str]] = {uid: [] for uid in [*nodes, *sources]}
    for uid, node in nodes.items():
        for parent in node["depends_on"]["nodes"]:
            child_map[parent].append(uid)
    return {"nodes": nodes, "sources": sources, "macros": macros, "child_map": child_map}


EVERYTHING = (
    {("staging", n) for n in ("stg_a", "stg_b", "stg_q")}
    | {("intermediate", n) for n in ("int_x", "int_y", "int_z")}
    | {("reference", "targets")}
)
STATE = sel.BuildState(
    "2026-11-21T01:00:00+00:00", {}, "2026-11-21", definitions=sel.definitions(_manifest())
)


def _plan(changed, cutoff="2026-11-21", existing=EVERYTHING, previous=STATE, full=False):
    return sel.plan(
        _manifest(),
        full_refresh=full,
        previous=previous,
        changed={f"source.{P}.raw.{c}" for c in changed},
        data_cutoff_date=cutoff,
        existing=existing,
    )


def test_full_refresh_and_first_run_build_everything_unscoped() -> None:
    for plan in (_plan({"a"}, full=True), _plan({"a"}, previous=None)):
        assert plan.full and plan.dbt_args() == ["--full-refresh"]
        assert plan.dbt_env() == {sel.TESTS_LOADED_AFTER_ENV: ""}  # every test unscoped


def test_incremental_selects_what_changed_and_every_mart() -> None:
    plan = _plan({"a"})
    assert not plan.full
    assert set(plan.select) == {"stg_a", "int_x", "fct_1", "fct_2"}  # marts: a new candidate
    assert set(plan.skipped) == {"stg_b", "stg_q", "int_y", "int_z"}
    # what the DAG reports as skipped (up to date): those models and the seed
    models = sorted(f"model.{P}.{m}" for m in ("stg_b", "stg_q", "int_y", "int_z"))
    assert plan.unbuilt == (*models, f"seed.{P}.targets")
    assert plan.dbt_args() == ["--select", *sorted(plan.select)]
    # nothing left out is downstream of something built (the DAG's branch relies on it)
    built = {uid for uid, n in _manifest()["nodes"].items() if n["name"] in plan.select}
    assert not (sel.descendants(_manifest(), built) - built) & set(plan.unbuilt)
    assert plan.changed_sources == ("raw.a",)
    assert plan.dbt_env() == {
        sel.TESTS_LOADED_AFTER_ENV: STATE.window_start,
        "PGOPTIONS": sel.INCREMENTAL_PGOPTIONS,  # no parallel workers beside dbt's threads
    }


def test_a_new_cutoff_rebuilds_what_renders_it_and_downstream() -> None:
    assert sel.run_varying_models(_manifest()) == {f"model.{P}.int_y", f"model.{P}.int_z"}
    plan = _plan(set(), cutoff="2026-11-22")
    assert set(plan.select) == {"int_y", "int_z", "fct_1", "fct_2"}


def _plan_of(manifest, changed=()):
    return sel.plan(
        manifest,
        full_refresh=False,
        previous=STATE,
        changed={f"source.{P}.raw.{c}" for c in changed},
        data_cutoff_date="2026-11-21",
        existing=EVERYTHING,
    )


def test_a_changed_definition_rebuilds_the_model_and_downstream() -> None:
    """dbt's state:modified: a model's code or config, a macro it calls (through another
    macro), a seed's file; nothing else changed, no source received rows."""
    assert set(_plan_of(_manifest()).select) == {"fct_1", "fct_2"}  # the marts only
    edited = _manifest()
    edited["nodes"][f"model.{P}.stg_q"]["raw_code"] = "select 2"
    assert set(_plan_of(edited).select) == {"stg_q", "fct_1", "fct_2"}
    configured = _manifest()
    configured["nodes"][f"model.{P}.int_x"]["config"]["materialized"] = "view"
    assert set(_plan_of(configured).select) == {"int_x", "fct_1", "fct_2"}
    macro = _manifest()
    macro["macros"][f"macro.{P}.inner"]["macro_sql"] = "{{ var('other') }}"
    assert set(_plan_of(macro).select) == {"int_y", "fct_1", "fct_2"}
    seed = _manifest()
    seed["nodes"][f"seed.{P}.targets"]["checksum"] = {"name": "sha256", "checksum": "new"}
    plan = _plan_of(seed)
    assert set(plan.select) == {"targets", "fct_1", "fct_2"}  # the seed is built
    assert f"seed.{P}.targets" not in plan.unbuilt
    assert f"seed.{P}.targets" in _plan_of(_manifest()).unbuilt


def test_a_changed_definition_reaching_an_incremental_model_makes_a_full_build() -> None:
    """An incremental run applies a new definition only to the rows in its scope: the table
    would mix old and new code. int_z is incremental; stg_b feeds it, stg_a does not."""
    for uid in (f"model.{P}.int_z", f"model.{P}.stg_b"):
        edited = _manifest()
        edited["nodes"][uid]["raw_code"] += " -- a fix"
        plan = _plan_of(edited, changed={"a"})
        assert plan.full and plan.dbt_args() == ["--full-refresh"]
        assert plan.reason == "changed definitions reach incremental models: int_z"
    upstream = _manifest()
    upstream["nodes"][f"model.{P}.stg_a"]["raw_code"] += " -- a fix"
    assert set(_plan_of(upstream).select) == {"stg_a", "int_x", "fct_1", "fct_2"}


def test_definitions_read_the_code_not_how_dbt_last_compiled_it() -> None:
    """dbt adds the macros of an `is_incremental()` branch to a node's depends_on when it
    compiles the node for an incremental run: that must not change its fingerprint (the next
    plan would see a change and build everything), and a change of such a macro, of the
    implementation adapter.dispatch picks, of a hook's macro or of the node's incremental
    strategy must."""
    base = _manifest()
    for name, code in {
        "scope": "{{ return(adapter.dispatch('scope_sql')()) }}",
        "default__scope_sql": "select 1",
        "get_incremental_mine_sql": "delete; insert",
        "analyze_table": "analyze {{ this }}",
    }.items():
        base["macros"][f"macro.{P}.{name}"] = {"name": name, "macro_sql": code, "depends_on": {}}
    z = base["nodes"][f"model.{P}.int_z"]
    z["raw_code"] += " {% if is_incremental() %} and {{ scope() }} {% endif %}"
    z["config"]["incremental_strategy"] = "mine"
    z["config"]["post-hook"] = [{"sql": "{{ analyze_table() }}", "transaction": True}]
    fingerprints = sel.definitions(base)
    compiled = copy.deepcopy(base)
    compiled["nodes"][f"model.{P}.int_z"]["depends_on"]["macros"] = [f"macro.{P}.scope"]
    assert sel.definitions(compiled) == fingerprints
    for macro in ("default__scope_sql", "get_incremental_mine_sql", "analyze_table"):
        changed = copy.deepcopy(base)
        changed["macros"][f"macro.{P}.{macro}"]["macro_sql"] += " -- changed"
        now = sel.definitions(changed)
        assert now[f"model.{P}.int_z"] != fingerprints[f"model.{P}.int_z"], macro
        assert now[f"model.{P}.int_x"] == fingerprints[f"model.{P}.int_x"], macro
    # dbt's name of a strategy's macro: + becomes _; no strategy set: "default"
    for strategy, macro in (("delete+insert", "delete_insert"), (None, "default")):
        named = copy.deepcopy(base)
        named["nodes"][f"model.{P}.int_z"]["config"]["incremental_strategy"] = strategy
        sql = {"name": f"get_incremental_{macro}_sql", "macro_sql": "a", "depends_on": {}}
        named["macros"][f"macro.dbt.get_incremental_{macro}_sql"] = sql
        before = sel.definitions(named)[f"model.{P}.int_z"]
        sql["macro_sql"] = "b"
        assert sel.definitions(named)[f"model.{P}.int_z"] != before, strategy


def test_constraints_postgresql_applies_are_part_of_the_definition() -> None:
    """PostgreSQL applies a contract's constraints and types when dbt creates the table, and a
    table's declared not_null and check constraints through the post-hook enforce_constraints:
    a changed constraint changes those tables' fingerprints, not a view's (its constraints only
    feed data tests); a column type changes only the contract's."""
    base = _manifest()
    base["nodes"][f"model.{P}.int_x"]["config"]["materialized"] = "view"
    tables = (f"model.{P}.int_z", f"model.{P}.int_y")  # a contract; a table without one
    for uid in (*tables, f"model.{P}.int_x"):
        base["nodes"][uid]["columns"] = {"d": {"name": "d", "data_type": "date", "constraints": []}}
    base["nodes"][tables[0]]["config"]["contract"] = {"enforced": True}
    fingerprints = sel.definitions(base)
    for kind in ({"type": "not_null"}, {"type": "check", "expression": "d > date '2024-01-01'"}):
        changed = copy.deepcopy(base)
        for uid in (*tables, f"model.{P}.int_x"):
            changed["nodes"][uid]["columns"]["d"]["constraints"] = [kind]
        now = sel.definitions(changed)
        assert [now[uid] != fingerprints[uid] for uid in tables] == [True, True], kind
        assert now[f"model.{P}.int_x"] == fingerprints[f"model.{P}.int_x"], kind
    for uid in (*tables, f"model.{P}.int_x"):
        base["nodes"][uid]["columns"]["d"]["data_type"] = "timestamp"
    now = sel.definitions(base)
    assert [now[uid] != fingerprints[uid] for uid in tables] == [True, False]


def test_a_missing_relation_left_out_makes_a_full_build() -> None:
    plan = _plan({"a"}, existing=EVERYTHING - {("staging", "stg_b")})
    assert plan.full and "stg_b" in plan.reason
    assert _plan({"a"}, existing=EVERYTHING - {("reference", "targets")}).full


def test_changed_sources_compare_counts_since_the_previous_window() -> None:
    sources = sel.source_tables(_manifest())
    previous = sel.BuildState("t", {f"source.{P}.raw.a": 5, f"source.{P}.raw.b": 0}, "d")
    now = {f"source.{P}.raw.a": 5, f"source.{P}.raw.b": 2}
    assert sel.changed_sources(sources, previous, now) == {
        f"source.{P}.raw.b",  # rows loaded since
        f"source.{P}.raw.q",  # no loaded_at: always
    }
    # a load that was running when the previous plan counted commits later: the count grows
    assert f"source.{P}.raw.a" in sel.changed_sources(
        sources, previous, {**now, f"source.{P}.raw.a": 6}
    )


def test_state_is_private_and_survives_a_round_trip(tmp_path) -> None:
    state_dir = tmp_path / "kept" / "plan"
    assert sel.load_state(state_dir) is None
    sel.save_state(state_dir, STATE)
    assert sel.load_state(state_dir) == STATE
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((state_dir / sel.STATE_FILE).stat().st_mode) == 0o600
    (state_dir / sel.STATE_FILE).write_text("{not json")
    assert sel.load_state(state_dir) is None  # unreadable: a full build
    sel.save_state(state_dir, STATE)
    sel.clear_state(state_dir)
    assert sel.load_state(state_dir) is None


@pytest.mark.parametrize("version", [0, sel.STATE_VERSION + 1])
def test_state_of_another_version_makes_a_full_build(version) -> None:
    previous = sel.BuildState(STATE.window_start, {}, STATE.data_cutoff_date, version)
    assert _plan({"a"}, previous=previous).full


def test_declared_check_constraints_are_named_as_the_post_hook_names_them() -> None:
    """macros/enforce_constraints.sql names a check after its `name`, else its column (or
    'check' for the model's) and '_check', then the first 8 hex digits of the expression's md5
    (md5("mode in ('x')") = fcafc550…, md5("a > 0") = 3ee692a1…, md5("b <= a") = fee92791…)."""
    node = {
        "columns": {
            "mode": {"constraints": [{"type": "check", "expression": "mode in ('x')"}]},
            "a": {
                "constraints": [
                    {"type": "not_null"},
                    {"type": "check", "expression": "a > 0", "name": "positive"},
                ]
            },
        },
        "constraints": [{"type": "check", "expression": "b <= a"}],
    }
    assert sel.declared_check_constraints(node) == {
        "mode_check_fcafc550": "mode in ('x')",
        "positive_3ee692a1": "a > 0",
        "check_check_fee92791": "b <= a",
    }
