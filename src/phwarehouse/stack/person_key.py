"""The pseudonymisation key, held only in the warehouse database, and its rotation.

`person_key` = hex HMAC-SHA256 of the upper-cased, trimmed ID number (an EHR without one:
'EHR:' || record_id). The key lives in `keyring.person_key_secret`, readable only by the
NOLOGIN role `phw_keyholder`; dbt calls the SECURITY DEFINER function
`keyring.person_key(id_number, record_id)` (EXECUTE for the transformer only), so no SQL text,
compiled model, XCom, dbt artifact or server log ever holds the key.

The configured value (PERSON_KEY_SECRET: generated into credentials.env, or set in the
environment of a deployment) seeds an empty keyring and is the copy to restore a warehouse
from; `phw rotate-person-key` changes both and rebuilds every person-keyed model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import psycopg
from psycopg import sql

from phwarehouse.settings import PROJECT_ROOT, Settings, read_env_file, set_credential

NAME = "PERSON_KEY_SECRET"
SCHEMA = "keyring"
KEYHOLDER = "phw_keyholder"
TRANSFORM_DAG = "warehouse_transform"

log = logging.getLogger(__name__)

# Applied to every provisioning session: no statement text or bind parameter of this session
# reaches the server log (passwords in ALTER ROLE, the key while it is stored). Superuser-only
# settings are skipped where the admin may not set them.
QUIET_LOGGING = (
    "set log_statement = 'none'",
    "set log_min_duration_statement = -1",
    "set log_min_duration_sample = -1",
    "set log_transaction_sample_rate = 0",
    "set log_min_error_statement = 'panic'",
    "set log_parameter_max_length = 0",
    "set log_parameter_max_length_on_error = 0",
    "set auto_explain.log_min_duration = -1",
)

_OBJECTS = """
create table if not exists {schema}.person_key_secret (
    singleton boolean primary key default true check (singleton),
    secret text not null check (length(secret) >= 16),
    set_at timestamptz not null default now()
);
alter table {schema}.person_key_secret owner to {keyholder};
revoke all on table {schema}.person_key_secret from public;

-- normalisation + HMAC with an explicit key: the keyed function below, and the dbt unit
-- tests (a public test key) share it
create or replace function {schema}.person_key_hmac(id_number text, record_id text, secret text)
returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $fn$
    select encode(
        {crypto}.hmac(
            coalesce(nullif(upper(btrim(id_number)), ''), 'EHR:' || record_id),
            secret,
            'sha256'
        ),
        'hex'
    )
$fn$;
alter function {schema}.person_key_hmac(text, text, text) owner to {keyholder};
revoke all on function {schema}.person_key_hmac(text, text, text) from public;
grant execute on function {schema}.person_key_hmac(text, text, text) to {transformer};

-- stable, not immutable: the key changes when it is rotated
create or replace function {schema}.person_key(id_number text, record_id text)
returns text
language plpgsql stable security definer parallel safe
set search_path = pg_catalog, pg_temp
as $fn$
declare
    k text;
begin
    select s.secret into k from {schema}.person_key_secret as s;
    if k is null then
        raise exception 'no person key in the warehouse: run phw provision';
    end if;
    return {schema}.person_key_hmac(id_number, record_id, k);
end
$fn$;
alter function {schema}.person_key(text, text) owner to {keyholder};
revoke all on function {schema}.person_key(text, text) from public;
grant execute on function {schema}.person_key(text, text) to {transformer};
"""


def quiet_logging(conn: psycopg.Connection) -> None:
    """Keep this (autocommit) session's statements and parameters out of the server log."""
    for statement in QUIET_LOGGING:
        try:
            conn.execute(statement)
        except psycopg.Error:  # not a superuser, or an unknown setting (auto_explain)
            log.debug("could not %s", statement)


def ensure_objects(conn: psycopg.Connection, transformer: str) -> None:
    """Keyholder role, protected schema, key table and functions (idempotent; admin session)."""
    keyholder = sql.Identifier(KEYHOLDER)
    if not conn.execute("select 1 from pg_roles where rolname = %s", (KEYHOLDER,)).fetchone():
        conn.execute(sql.SQL("create role {} nologin").format(keyholder))
    schema = sql.Identifier(SCHEMA)
    conn.execute(
        sql.SQL("create schema if not exists {} authorization {}").format(schema, keyholder)
    )
    conn.execute(sql.SQL("alter schema {} owner to {}").format(schema, keyholder))
    conn.execute(sql.SQL("revoke all on schema {} from public").format(schema))
    conn.execute(
        sql.SQL("grant usage on schema {} to {}").format(schema, sql.Identifier(transformer))
    )
    row = conn.execute(
        "select extnamespace::regnamespace::text from pg_extension where extname = 'pgcrypto'"
    ).fetchone()
    if row is None:
        raise RuntimeError("the pgcrypto extension is missing in the warehouse database")
    with conn.transaction():
        conn.execute(
            sql.SQL(_OBJECTS).format(
                schema=schema,
                keyholder=keyholder,
                transformer=sql.Identifier(transformer),
                crypto=sql.Identifier(row[0]),
            )
        )


def stored_key(conn: psycopg.Connection) -> str | None:
    row = conn.execute(
        sql.SQL("select secret from {}.person_key_secret").format(sql.Identifier(SCHEMA))
    ).fetchone()
    return None if row is None else str(row[0])


def store_key(conn: psycopg.Connection, key: str) -> None:
    """Set the key. It travels as COPY data (never logged, unlike statement text or bind
    parameters), through a temporary table, in a session whose logging is quiet."""
    quiet_logging(conn)
    with conn.transaction():
        conn.execute("create temporary table phw_new_person_key (secret text) on commit drop")
        with conn.cursor().copy("copy phw_new_person_key (secret) from stdin") as copy:
            copy.write_row((key,))
        conn.execute(
            sql.SQL(
                "insert into {}.person_key_secret (singleton, secret, set_at) "
                "select true, secret, now() from phw_new_person_key "
                "on conflict (singleton) do update set secret = excluded.secret, set_at = now()"
            ).format(sql.Identifier(SCHEMA))
        )


def sync_configured_key(conn: psycopg.Connection, settings: Settings) -> str | None:
    """Store the configured key in an empty keyring. Returns a notice when the warehouse
    holds another key (it is kept: replacing it silently would mix person keys)."""
    configured = settings.get(NAME)
    stored = stored_key(conn)
    if stored is None:
        store_key(conn, configured)
        return None
    if stored != configured:
        return (
            f"the warehouse's person key differs from the configured {NAME} (kept the "
            "warehouse's): run `phw rotate-person-key` to apply the configured key and rebuild"
        )
    return None


def _configured_outside_credentials(settings: Settings) -> bool:
    in_file = read_env_file(settings.credentials_file).get(NAME)
    return (
        in_file != settings.get(NAME)
        or NAME in os.environ
        or NAME in read_env_file(PROJECT_ROOT / ".env")
    )


def rotate(settings: Settings, say: Callable[[str], None], rebuild: str = "auto") -> str:
    """Set a new person key and rebuild the person-keyed models. Returns how it rebuilt.

    The new key is the configured PERSON_KEY_SECRET when it differs from the warehouse's (a
    deployment changed it), else a fresh one written into credentials.env first (so a failure
    after it leaves a configured key that the next `rotate` applies). `rebuild`: "airflow"
    triggers the transform DAG with full_refresh and waits, "dbt" runs `dbt build
    --full-refresh` here, "auto" uses Airflow when its API answers, "none" skips it.
    """
    from phwarehouse.settings import new_secret
    from phwarehouse.stack.provision import provision

    for notice in provision(settings):
        say(notice)
    with psycopg.connect(settings.pg.admin_url(settings.warehouse_db), autocommit=True) as conn:
        quiet_logging(conn)
        configured, stored = settings.get(NAME), stored_key(conn)
        if configured != stored:
            say(f"applying the configured {NAME}")
            key = configured
        elif _configured_outside_credentials(settings):
            raise RuntimeError(
                f"{NAME} is set in the environment or .env: set the new key there, "
                "then run `phw rotate-person-key` again"
            )
        else:
            key = new_secret(NAME)
            set_credential(settings.credentials_file, NAME, key)
            settings.values[NAME] = key
            say(f"new person key written to {settings.credentials_file}")
        store_key(conn, key)
    say("new person key set in the warehouse (keyring.person_key_secret)")
    return rebuild_person_keyed_models(settings, say, rebuild)


def rebuild_person_keyed_models(settings: Settings, say: Callable[[str], None], how: str) -> str:
    """Full refresh of the dbt project: the staging residents and the incremental person x
    window tables keep person keys; every mart is rebuilt from them."""
    from phwarehouse.stack import processes

    if how == "auto":
        up = processes.http_ok(f"{settings.airflow_url}/api/v2/monitor/health")
        how = "airflow" if up else "dbt"
    if how == "airflow":
        from phwarehouse.stack.airflow_service import AirflowClient

        client = AirflowClient.for_stack(settings)
        run_id = client.trigger(TRANSFORM_DAG, {"full_refresh": True})
        say(f"{TRANSFORM_DAG}: full-refresh run {run_id}; waiting")
        run = client.wait_for_run(TRANSFORM_DAG, run_id, timeout=4 * 3600)
        if run["state"] != "success":
            raise RuntimeError(
                f"{TRANSFORM_DAG} run {run_id} {run['state']}: person keys are not rebuilt; "
                f'trigger it again with {{"full_refresh": true}}'
            )
    elif how == "dbt":
        import json
        from datetime import UTC, datetime

        from phwarehouse.pipeline import data_cutoff
        from phwarehouse.stack.manage import run_dbt

        # the cut-off a transform run started now would take, not dbt's default (today)
        cutoff = data_cutoff.for_instant(datetime.now(UTC)).isoformat()
        say(f"dbt build --full-refresh, data cut-off {cutoff} (person-keyed models and downstream)")
        run_dbt(
            settings,
            "build",
            "--full-refresh",
            "--exclude",
            "resource_type:unit_test",
            "--vars",
            # target prod builds the marts into marts_candidate unless told: the rotation
            # rebuilds the published marts themselves, as before (same numbers, new keys)
            json.dumps({"data_cutoff_date": cutoff, "marts_schema": "marts"}),
        )
    elif how != "none":
        raise ValueError(f"unknown rebuild mode {how!r}")
    say(f"person-keyed models rebuilt ({how})")
    return how
