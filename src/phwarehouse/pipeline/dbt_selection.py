"""What a transform run builds: everything (first run, full refresh), or only what changed.

The transform DAG applies the plan through `phwarehouse.pipeline.transform_plan`; the
benchmarks and the e2e test call `plan_for` and `dbt build` themselves.

A daily run pays for the change, not for the warehouse: `plan()` selects
- every model downstream of a source that received rows since the previous successful build
  (the same idea as dbt's `source_status:fresher+`, measured here without a `dbt source
  freshness` run: one index range count per raw table, see `measure_sources`);
- when the run's data cut-off differs from the previous build's, every model that renders the
  cut-off (`RUN_VARS`, directly or through a macro) and everything downstream of it;
- every mart: the pipeline builds the marts into `marts_candidate`, which the publication renames
  to `marts`, so each run starts from an empty candidate schema and must write every mart;
- every model or seed whose definition changed since the previous build (dbt's
  `state:modified`: its file, its config or a macro it calls; `definitions`) and everything
  downstream of it, so a deployed fix is built by the next run. When an incremental model is
  among them (the change itself or downstream of it), the run is a full build instead: an
  incremental run would apply the new definition only to the rows in its change scope, and the
  table would mix rows of the old and the new code. Vars are not tracked: after changing them,
  run a full refresh.
Models left out are up to date: their inputs did not change, and views among them read their
(re)built inputs when queried. A model left out that does not exist as a relation (a dropped
schema, a new model) makes the run a full build.

Data tests follow the selection (dbt build runs the tests of the selected models) and are scoped
to the rows the run wrote: `plan.tests_loaded_after` goes to dbt in the environment variable
`TESTS_LOADED_AFTER_ENV`, read by the project's `get_where_subquery` (macros/scoped_tests.sql),
not as a `--vars` value (a var that changes every run would defeat dbt's partial parsing). A full
build leaves it empty: every test unscoped. An incremental run's sessions also start no parallel
workers (`INCREMENTAL_PGOPTIONS`).

A source "received rows" when the number of its rows loaded after the previous plan's window
start (its time less the change margin) differs from the count taken then: rows committed by a
load still running when the previous plan counted (their loaded_at is their transaction's start)
are counted too, as dbt's incremental models re-read that margin. Sources without a
`loaded_at_field` always count as changed. The state (`BuildState`) is saved after a successful
build only (`save_state`), in a directory readable by this user alone, so a failed run is
repeated in full scope by the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

RUN_VARS = ("data_cutoff_date",)  # vars that change from run to run
MARTS_FOLDER = "marts"  # models/marts: built into the candidate schema, renamed on publication
TESTS_LOADED_AFTER_ENV = "PHW_TESTS_LOADED_AFTER"
#: libpq options of an incremental run's sessions: no parallel workers. dbt's two threads keep
#: both cores busy with mid-sized whole-table models there, and the workers a query starts only
#: compete with the other thread (100 k, bench_dbt.py: one-day builds 17.9 / 18.3 s against
#: 20.3 / 19.8 s, PostgreSQL CPU 17.0 s against 18.5-19.4 s). A full build keeps them: its
#: largest models run alone for tens of seconds.
INCREMENTAL_PGOPTIONS = "-c max_parallel_workers_per_gather=0"
STATE_FILE = "build_state.json"
# 3: int_service_records and int_persons incremental (new columns); 4: the child vaccination
# and TCM tables incremental (new columns), the scope indexes (created by a full build); 5: the
# SMD windows and the elderly exams incremental (new columns). A changed model or macro needs no
# new version: a changed definition that reaches an incremental model makes a full build (`plan`)
STATE_VERSION = 5


@dataclass(frozen=True)
class BuildState:
    """What a successful build saw: the window its source counts start at, the counts, and the
    data cut-off it built with."""

    window_start: str  # ISO timestamp with zone (database time of the plan less the margin)
    counts: dict[str, int]  # source unique_id -> rows loaded after window_start
    data_cutoff_date: str
    version: int = STATE_VERSION
    #: unique_id -> fingerprint of each model's and seed's definition it built (`definitions`)
    definitions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    full: bool
    reason: str
    select: tuple[str, ...] = ()  # model and seed names for `dbt build --select` (empty when full)
    changed_sources: tuple[str, ...] = ()
    tests_loaded_after: str = ""  # empty: tests unscoped
    next_state: BuildState | None = None
    skipped: tuple[str, ...] = field(default=(), repr=False)
    #: unique_ids of the models and seeds an incremental run does not build (up to date)
    unbuilt: tuple[str, ...] = field(default=(), repr=False)

    def dbt_args(self) -> list[str]:
        """Arguments for `dbt build`: the selection, or --full-refresh for a full build."""
        return ["--full-refresh"] if self.full else ["--select", *self.select]

    def dbt_env(self) -> dict[str, str]:
        """Environment of the `dbt build`: the tests' run scope, and for an incremental run
        the sessions' options (`PGOPTIONS`, read by libpq)."""
        env = {TESTS_LOADED_AFTER_ENV: self.tests_loaded_after}
        if not self.full:
            env["PGOPTIONS"] = INCREMENTAL_PGOPTIONS
        return env

    def summary(self) -> str:
        if self.full:
            return f"full build: {self.reason}"
        return (
            f"incremental build of {len(self.select)} models ({len(self.skipped)} up to date); "
            f"sources with new rows: {', '.join(self.changed_sources) or 'none'}; "
            f"tests scoped to rows loaded after {self.tests_loaded_after}"
        )


# ---- the manifest -------------------------------------------------------------------------


def models(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node.get("config", {}).get("enabled", True)
    }


def _reachable(roots: Iterable[str], nexts: Callable[[str], Iterable[str]]) -> set[str]:
    """The roots and everything reachable from them through `nexts`."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        uid = todo.pop()
        if uid not in seen:
            seen.add(uid)
            todo.extend(nexts(uid))
    return seen


def descendants(manifest: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    """The roots and every node downstream of them (dbt's `+` suffix)."""
    child_map = manifest["child_map"]
    return _reachable(roots, lambda uid: child_map.get(uid, ()))


_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_DISPATCH = re.compile(r"adapter\.dispatch\(\s*['\"](\w+)['\"]")
_DISPATCHED = ("default__", "postgres__")  # what adapter.dispatch picks on this warehouse


class MacroCalls:
    """Which macros each node can call, read from the code (`called`).

    Not from dbt's `depends_on.macros`: dbt records there the macros of the branches it
    rendered, and adds those of `{% if is_incremental() %}` when it compiles the node for an
    incremental run, so the list in a manifest depends on how the node last ran, and a
    fingerprint built from it would change without any change of code."""

    def __init__(self, manifest: Mapping[str, Any]) -> None:
        self.macros = manifest.get("macros", {})
        self.by_name: dict[str, list[str]] = {}
        for uid, macro in self.macros.items():
            self.by_name.setdefault(macro.get("name") or uid.rsplit(".", 1)[-1], []).append(uid)
        self.callees = {uid: self._named(m.get("macro_sql", "")) for uid, m in self.macros.items()}

    def _named(self, code: str, extra: Iterable[str] = ()) -> set[str]:
        """Macros named as calls or dispatched (`adapter.dispatch('name')`) in `code`, the
        implementations dispatch picks, and `extra`."""
        names = {*_CALL.findall(code), *_DISPATCH.findall(code), *extra}
        names |= {prefix + name for name in names for prefix in _DISPATCHED}
        return {uid for name in names for uid in self.by_name.get(name, ())}

    def called(self, node: Mapping[str, Any]) -> list[str]:
        """Every macro `node` calls, directly or through other macros, in its code or hooks, with
        its materialization and incremental strategy (sorted unique_ids)."""
        config = node.get("config", {})
        materialized = config.get("materialized") or node.get("resource_type", "")
        extra = [f"materialization_{materialized}_{a}" for a in ("default", "postgres")]
        if materialized == "incremental":  # dbt's macro name for the strategy: + becomes _
            strategy = (config.get("incremental_strategy") or "default").replace("+", "_")
            extra.append(f"get_incremental_{strategy}_sql")
        hooks = [h.get("sql", "") for k in ("pre-hook", "post-hook") for h in config.get(k, ())]
        direct = self._named("\n".join([node.get("raw_code", ""), *hooks]), extra)
        return sorted(_reachable(direct, lambda uid: self.callees.get(uid, ())))


def _mentions(text: str, names: Iterable[str]) -> bool:
    return any(re.search(rf"\b{re.escape(name)}\b", text) for name in names)


def run_varying_models(manifest: Mapping[str, Any], run_vars: Iterable[str] = RUN_VARS) -> set[str]:
    """Models whose SQL renders one of `run_vars`, in their own code or a macro they call."""
    run_vars = tuple(run_vars)
    calls = MacroCalls(manifest)
    rendering = {
        uid for uid, m in calls.macros.items() if _mentions(m.get("macro_sql", ""), run_vars)
    }
    return {
        uid
        for uid, node in models(manifest).items()
        if _mentions(node.get("raw_code", ""), run_vars)
        or rendering.intersection(calls.called(node))
    }


def marts(manifest: Mapping[str, Any]) -> set[str]:
    return {uid for uid, node in models(manifest).items() if node["fqn"][1:2] == [MARTS_FOLDER]}


def relation(node: Mapping[str, Any]) -> tuple[str, str]:
    return node["schema"], node.get("alias") or node["name"]


@dataclass(frozen=True)
class SourceTable:
    unique_id: str
    schema: str
    table: str
    loaded_at_field: str | None


def source_tables(manifest: Mapping[str, Any]) -> list[SourceTable]:
    return [
        SourceTable(
            uid,
            src["schema"],
            src.get("identifier") or src["name"],
            src.get("loaded_at_field") or src.get("config", {}).get("loaded_at_field"),
        )
        for uid, src in sorted(manifest["sources"].items())
    ]


def definitions(manifest: Mapping[str, Any]) -> dict[str, str]:
    """A fingerprint of every enabled model's and seed's definition: its file's checksum, its
    raw code and config, the constraints PostgreSQL applies to its table (`_constraints`), and
    the code of every macro it calls, transitively
    (`MacroCalls`; dbt's own macros too, so a dbt upgrade changes them all)."""
    calls = MacroCalls(manifest)
    return {
        uid: _digest(
            json.dumps(node.get("checksum", {}), sort_keys=True),
            node.get("raw_code", ""),
            json.dumps(node.get("config", {}), sort_keys=True, default=str),
            json.dumps(_constraints(node), sort_keys=True, default=str),
            *(calls.macros[m].get("macro_sql", "") for m in calls.called(node)),
        )
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed")
        and node.get("config", {}).get("enabled", True)
    }


def contract_enforced(node: Mapping[str, Any]) -> bool:
    """dbt's DDL creates the node with its contract's column types and constraints."""
    return bool(node.get("config", {}).get("contract", {}).get("enforced"))


def is_table_model(node: Mapping[str, Any]) -> bool:
    """A table or incremental model: PostgreSQL holds its declared not_null and check
    constraints, from its contract or, without one, from the post-hook enforce_constraints
    (macros/enforce_constraints.sql, which states the same rule in Jinja)."""
    return node.get("resource_type") == "model" and node.get("config", {}).get("materialized") in (
        "table",
        "incremental",
    )


def constraints_enforced(node: Mapping[str, Any]) -> bool:
    """PostgreSQL enforces the node's declared not_null and check constraints (not a view or
    seed, where they only feed data tests)."""
    return contract_enforced(node) or is_table_model(node)


def declared_check_constraints(node: Mapping[str, Any]) -> dict[str, str]:
    """{name: expression} of the check constraints the node's yml declares, named as the
    post-hook enforce_constraints names them (macros/enforce_constraints.sql, which states the
    rule in Jinja): the constraint's `name`, else its column's followed by '_check' ('check'
    for the model's), then '_' and the first 8 hex digits of its expression's md5."""
    declared = [
        (column_name, constraint)
        for column_name, column in node.get("columns", {}).items()
        for constraint in column.get("constraints", [])
    ] + [("check", constraint) for constraint in node.get("constraints", [])]
    return {
        f"{c.get('name') or prefix + '_check'}_{_md5(c['expression'])[:8]}": c["expression"]
        for prefix, c in declared
        if c["type"] == "check"
    }


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # a name, as dbt's local_md5 gives it


def _constraints(node: Mapping[str, Any]) -> list[Any]:
    """What PostgreSQL makes of the declared constraints: an enforced contract's constraints
    and column types (dbt's DDL), a table's not_null and check constraints without a contract
    (the post-hook enforce_constraints); nothing on a view or seed, where they only feed data
    tests."""
    columns = node.get("columns", {})
    if contract_enforced(node):
        return [
            node.get("constraints", []),
            {name: [c.get("data_type"), c.get("constraints", [])] for name, c in columns.items()},
        ]
    if is_table_model(node):
        return [
            node.get("constraints", []),
            {name: c.get("constraints", []) for name, c in columns.items()},
        ]
    return []


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n\x00".join(parts).encode()).hexdigest()


# ---- the plan -----------------------------------------------------------------------------


def changed_sources(
    sources: Iterable[SourceTable], previous: BuildState, counts_since_previous: Mapping[str, int]
) -> set[str]:
    """Sources with rows loaded since the previous build: a count after its window start that
    differs from the count taken then; sources without a loaded_at column always."""
    return {
        src.unique_id
        for src in sources
        if src.loaded_at_field is None
        or counts_since_previous.get(src.unique_id) != previous.counts.get(src.unique_id)
    }


def plan(
    manifest: Mapping[str, Any],
    *,
    full_refresh: bool,
    previous: BuildState | None,
    changed: set[str],
    data_cutoff_date: str,
    existing: set[tuple[str, str]],
    next_state: BuildState | None = None,
) -> Plan:
    """The run's selection (pure: the database is read by `measure_sources` / `existing_relations`).

    `changed`: source unique_ids with new rows since `previous`; `existing`: the (schema, name)
    relations the warehouse has."""
    if full_refresh:
        return Plan(True, "full refresh requested", next_state=next_state)
    if previous is None:
        return Plan(True, "no previous successful build recorded", next_state=next_state)
    if previous.version != STATE_VERSION:
        return Plan(True, "previous build recorded by another version", next_state=next_state)
    all_models = models(manifest)
    # plan_run computed them for the next state already
    current = (next_state and next_state.definitions) or definitions(manifest)
    modified = {
        uid for uid, fingerprint in current.items() if previous.definitions.get(uid) != fingerprint
    }
    stale = _incremental(all_models) & descendants(manifest, modified)
    if stale:
        return Plan(
            True,
            "changed definitions reach incremental models: "
            + _some(sorted(all_models[uid]["name"] for uid in stale)),
            next_state=next_state,
        )
    selected = marts(manifest) | descendants(manifest, changed | modified)
    if previous.data_cutoff_date != data_cutoff_date:
        selected |= descendants(manifest, run_varying_models(manifest))
    seeds = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "seed"}
    built_seeds = sorted(set(seeds) & modified)
    selected &= set(all_models)
    skipped = sorted(set(all_models) - selected)
    missing = [
        all_models[uid]["name"] for uid in skipped if relation(all_models[uid]) not in existing
    ] + [seed["name"] for seed in seeds.values() if relation(seed) not in existing]
    if missing:
        return Plan(True, "not in the warehouse: " + _some(sorted(missing)), next_state=next_state)
    return Plan(
        False,
        "incremental",
        select=tuple(
            sorted(
                [all_models[uid]["name"] for uid in selected]
                + [seeds[uid]["name"] for uid in built_seeds]
            )
        ),
        changed_sources=tuple(sorted(uid.split(".", 2)[2] for uid in changed)),
        tests_loaded_after=previous.window_start,
        next_state=next_state,
        skipped=tuple(all_models[uid]["name"] for uid in skipped),
        unbuilt=tuple(sorted([*skipped, *(set(seeds) - set(built_seeds))])),
    )


def _incremental(all_models: Mapping[str, Mapping[str, Any]]) -> set[str]:
    return {
        uid
        for uid, node in all_models.items()
        if node.get("config", {}).get("materialized") == "incremental"
    }


def _some(names: list[str], shown: int = 5) -> str:
    """The first `shown` names, and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


# ---- the database -------------------------------------------------------------------------


def measure_sources(
    conn, sources: Iterable[SourceTable], previous_start: str | None, margin: timedelta
) -> tuple[str, dict[str, int], dict[str, int]]:
    """(window start of this plan, counts after it, counts after the previous window start).

    One range count per table on its loaded_at index; a missing table counts -1."""
    from psycopg import sql

    now = conn.execute("select now()").fetchone()[0]
    start = now - margin
    prev = datetime.fromisoformat(previous_start) if previous_start else start
    counts: dict[str, int] = {}
    since_previous: dict[str, int] = {}
    for src in sources:
        if src.loaded_at_field is None:
            continue
        exists = conn.execute(
            "select to_regclass(%s)", (f'"{src.schema}"."{src.table}"',)
        ).fetchone()[0]
        if exists is None:
            counts[src.unique_id] = since_previous[src.unique_id] = -1
            continue
        col = sql.Identifier(src.loaded_at_field)
        query = sql.SQL(
            "select count(*) filter (where {c} > %(new)s), count(*) filter (where {c} > %(prev)s)"
            " from {t} where {c} > least(%(new)s, %(prev)s)"
        ).format(c=col, t=sql.Identifier(src.schema, src.table))
        new, old = conn.execute(query, {"new": start, "prev": prev}).fetchone()
        counts[src.unique_id], since_previous[src.unique_id] = new, old
    return start.isoformat(), counts, since_previous


def existing_relations(conn) -> set[tuple[str, str]]:
    rows = conn.execute(
        "select n.nspname, c.relname from pg_class as c join pg_namespace as n"
        " on n.oid = c.relnamespace where c.relkind in ('r', 'v', 'm', 'p', 'f')"
    ).fetchall()
    return {(schema, name) for schema, name in rows}


def plan_run(
    conn,
    manifest: Mapping[str, Any],
    state_dir: Path,
    *,
    data_cutoff_date: str,
    full_refresh: bool = False,
    margin: timedelta = timedelta(hours=1),
) -> Plan:
    """Read the kept state and the warehouse, and plan this run (see the module's docstring)."""
    previous = load_state(state_dir)
    sources = source_tables(manifest)
    start, counts, since_previous = measure_sources(
        conn, sources, previous.window_start if previous else None, margin
    )
    next_state = BuildState(start, counts, data_cutoff_date, definitions=definitions(manifest))
    changed = changed_sources(sources, previous, since_previous) if previous else set()
    return plan(
        manifest,
        full_refresh=full_refresh,
        previous=previous,
        changed=changed,
        data_cutoff_date=data_cutoff_date,
        existing=existing_relations(conn),
        next_state=next_state,
    )


def plan_for(
    dsn: str,
    manifest_path: Path,
    state_dir: Path,
    *,
    data_cutoff_date: str,
    full_refresh: bool = False,
    margin: timedelta = timedelta(hours=1),
) -> Plan:
    """`plan_run` on the warehouse at `dsn` with dbt's manifest at `manifest_path`."""
    import psycopg

    manifest = json.loads(manifest_path.read_text())
    with psycopg.connect(dsn) as conn:
        return plan_run(
            conn,
            manifest,
            state_dir,
            data_cutoff_date=data_cutoff_date,
            full_refresh=full_refresh,
            margin=margin,
        )


# ---- the kept state -----------------------------------------------------------------------


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) readable by this user only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def load_state(state_dir: Path) -> BuildState | None:
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return BuildState(
            window_start=data["window_start"],
            counts={k: int(v) for k, v in data["counts"].items()},
            data_cutoff_date=data["data_cutoff_date"],
            version=int(data.get("version", 0)),
            definitions={k: str(v) for k, v in data.get("definitions", {}).items()},
        )
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: plan a full build


def save_state(state_dir: Path, state: BuildState) -> None:
    """Write the state after a successful build (atomically, mode 0600)."""
    private_dir(state_dir)
    tmp = state_dir / f".{STATE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(state), out, indent=1, sort_keys=True)
    os.replace(tmp, state_dir / STATE_FILE)


def clear_state(state_dir: Path) -> None:
    (state_dir / STATE_FILE).unlink(missing_ok=True)
