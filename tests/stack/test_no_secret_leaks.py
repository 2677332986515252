"""No secret of the credentials file leaks into what a run leaves behind (issue #9, item 1).

After `make run`'s main job (and a rotation of the pseudonymisation key, rebuilt through the
transform DAG while the cluster logs every statement), every value of the stack's credentials
file, and the key before rotation, is searched for in:
- dbt's target/ (manifest, partial_parse.msgpack, run_results, compiled and run SQL) and logs;
- everything under the stack's home: service logs (Airflow, Superset, platform), Airflow task
  logs, Cosmos' dbt cache, the PostgreSQL server log;
- the Airflow and Superset metadata databases (XComs, serialized DAGs, rendered task fields,
  …: every table) and the warehouse (every table but the key's own, function and view
  definitions).
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from phwarehouse.settings import PROJECT_ROOT, Settings, read_env_file
from phwarehouse.stack import person_key

pytestmark = pytest.mark.stack

# Every generated secret is 32+ characters; a value shorter than this (a configured one) would
# match by chance in logs and data, so it is left out of the scan.
MIN_SECRET_LENGTH = 8
# table -> its person column (the person x window tables are keyed on person_sk, a hash of it)
PERSON_KEYED = {
    "staging.stg_platform__residents": "person_key",
    "intermediate.int_person_changes": "person_key",
    "intermediate.int_records__person_window_spans": "person_sk",
    "intermediate.int_chronic__htn_t2d_windows": "person_sk",
    "intermediate.int_elderly__person_windows": "person_sk",
    "intermediate.int_child__tcm_windows": "person_sk",
    "intermediate.int_child__vaccination_due_doses": "person_sk",
    "intermediate.int_child__vaccination_windows": "person_sk",
    "intermediate.int_chronic__smd_windows": "person_sk",
    "intermediate.int_elderly__exam_completeness": "person_sk",
}
FACTS = (
    "select indicator_code, org_unit_code, period_key, numerator, denominator"
    " from marts.fct_indicator_values order by 1, 2, 3"
)
# keys that were in use before a rotation in this session: they must not leak either
_retired_keys: list[str] = []


def _secrets(settings: Settings) -> dict[str, str]:
    values = dict(read_env_file(settings.credentials_file))
    for i, key in enumerate(_retired_keys):
        values[f"PERSON_KEY_SECRET (retired {i + 1})"] = key
    return {name: value for name, value in values.items() if len(value) >= MIN_SECRET_LENGTH}


def _warehouse(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(settings.pg.admin_url(settings.warehouse_db), autocommit=True)


def _keys(conn: psycopg.Connection, table: str, column: str = "person_key") -> set:
    return {r[0] for r in conn.execute(f"select distinct {column} from {table}").fetchall()}


def _loaded(conn: psycopg.Connection) -> tuple:
    return conn.execute("select count(*), sum(loaded) from ops.load_audit").fetchone()


def _log_every_statement(settings: Settings, on: bool) -> None:
    with psycopg.connect(settings.pg.admin_url(), autocommit=True) as conn:
        for name, value in (("log_statement", "'all'"), ("log_min_duration_statement", "0")):
            verb = f"set {name} = {value}" if on else f"reset {name}"
            conn.execute(f"alter system {verb}")
        conn.execute("select pg_reload_conf()")
    time.sleep(1)


def test_rotating_the_person_key_rebuilds_every_person_keyed_model(stack, first_run) -> None:
    assert first_run.ok, first_run
    with _warehouse(stack) as conn:
        old = {table: _keys(conn, table, column) for table, column in PERSON_KEYED.items()}
        facts, loaded = conn.execute(FACTS).fetchall(), _loaded(conn)
    assert old["staging.stg_platform__residents"], "no residents were modelled"
    _retired_keys.append(stack.get("PERSON_KEY_SECRET"))

    _log_every_statement(stack, True)  # the PostgreSQL log of the rebuild is scanned below
    try:
        assert person_key.rotate(stack, print, rebuild="airflow") == "airflow"
    finally:
        _log_every_statement(stack, False)

    assert stack.get("PERSON_KEY_SECRET") != _retired_keys[-1]
    with _warehouse(stack) as conn:
        stale = conn.execute(
            "select count(*) from staging.stg_platform__residents as s"
            " join raw.residents as r on r.record_id = s.record_id and r.is_latest"
            " where s.person_key <> keyring.person_key(r.payload ->> 'id_number', r.record_id)"
        ).fetchone()[0]
        assert stale == 0
        known = {
            "person_key": _keys(conn, "staging.stg_platform__residents")
            | _keys(conn, "intermediate.int_person_changes"),
            "person_sk": _keys(conn, "intermediate.int_persons", "person_sk"),
        }
        for table, column in PERSON_KEYED.items():
            new = _keys(conn, table, column)
            assert new and not (new & old[table]), f"{table} keeps person keys of the old key"
            assert new <= known[column], table
        if _loaded(conn) == loaded:  # nothing ingested meanwhile: the same numbers
            assert conn.execute(FACTS).fetchall() == facts


def _scan_files(roots: list[Path], skip: set[Path], secrets: dict[str, str]) -> list[str]:
    needles = {name: value.encode() for name, value in secrets.items()}
    hits = []
    for root in roots:
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            if not path.is_file() or path in skip or any(s in path.parents for s in skip):
                continue
            data = path.read_bytes()
            hits += [f"{path}: {name}" for name, value in needles.items() if value in data]
    return hits


def _scan_database(
    settings: Settings, db: str, secrets: dict[str, str], skip_schemas: tuple[str, ...] = ()
) -> list[str]:
    """Every row of every table, as text (bytea as hex, so secrets are searched hex-encoded
    too); the server does the search."""
    needles = {**secrets, **{f"{k} (hex)": v.encode().hex() for k, v in secrets.items()}}
    hits = []
    with psycopg.connect(settings.pg.admin_url(db), autocommit=True) as conn:
        tables = conn.execute(
            "select schemaname, tablename from pg_tables"
            " where schemaname not in ('pg_catalog', 'information_schema')"
            " and not (schemaname = any(%s)) order by 1, 2",
            (list(skip_schemas),),
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL(
                "select n from unnest(%s::text[], %s::text[]) as s(n, v) where exists "
                "(select 1 from {}.{} as t where strpos(t::text, s.v) > 0)"
            ).format(sql.Identifier(schema), sql.Identifier(table))
            found = conn.execute(query, (list(needles), list(needles.values()))).fetchall()
            hits += [f"{db}: {schema}.{table}: {name}" for (name,) in found]
    return hits


def test_no_secret_in_any_artifact_log_or_metadata(stack, first_run) -> None:
    assert first_run.ok, first_run
    secrets = _secrets(stack)
    assert "PERSON_KEY_SECRET" in secrets and "WAREHOUSE_TRANSFORMER_PASSWORD" in secrets
    home = stack.home
    pgdata = stack.pgdata
    server_logs = [pgdata / "server.log", pgdata / "log"]
    assert server_logs[0].stat().st_size > 0
    skip = {
        stack.credentials_file,  # where they are kept (0600)
        pgdata,  # the databases' files (the key table, password verifiers); logs scanned below
        stack.platform_data_dir,  # the demo district's input data, not an artifact of the run
        stack.drop_dir,
    }
    dbt = PROJECT_ROOT / "dbt_project"
    roots = [home, *[p for p in server_logs if p.exists()], dbt / "target", dbt / "logs"]
    hits = _scan_files(roots, skip, secrets)
    hits += _scan_database(stack, "airflow", secrets)
    hits += _scan_database(stack, "superset", secrets)
    hits += _scan_database(stack, stack.warehouse_db, secrets, skip_schemas=(person_key.SCHEMA,))
    with _warehouse(stack) as conn:
        for name, value in secrets.items():
            found = conn.execute(
                "select proname from pg_proc where strpos(prosrc, %(v)s) > 0 union all"
                " select viewname from pg_views where strpos(definition, %(v)s) > 0",
                {"v": value},
            ).fetchall()
            hits += [f"definition of {n}: {name}" for (n,) in found]
    assert hits == []


def test_dbt_artifacts_and_task_logs_are_not_world_readable(stack, first_run) -> None:
    dbt = PROJECT_ROOT / "dbt_project"
    for folder in (dbt / "target", dbt / "logs", stack.log_dir):
        assert folder.stat().st_mode & 0o077 == 0, folder
    task_logs = stack.airflow_home / "logs"
    readable = [str(p) for p in [task_logs, *task_logs.rglob("*")] if p.stat().st_mode & 0o004]
    assert readable == []
