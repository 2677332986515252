"""Databases, roles and grants: idempotent, run on every `make run`.

Least privilege in the warehouse:
- loader (`phw_loader`) owns `raw` (personal data as received) and `ops` (ingestion bookkeeping);
- transformer (`phw_transformer`, dbt and GX) reads `raw`/`ops` and owns the modelled schemas;
  it may create schemas (CREATE on the database), so dbt's target `dev` writes its prefixed
  `dev_*` schemas (dbt_project/profiles.yml), on which no other role is granted anything;
- quality (`phw_quality`, the GX checks of the quality gate) reads `raw`, `ops`, `reference` and
  the candidate marts it validates (granted by the transformer before each run) and owns only
  `quality`, where it writes its results;
- BI reader (`phw_bi_reader`, Superset) reads `marts` only: no temporary tables, no connection
  to the other databases (airflow, superset, postgres), a statement timeout;
- key holder (`phw_keyholder`, NOLOGIN) owns `keyring`: the pseudonymisation key, readable by no
  one else, used through `keyring.person_key()` (EXECUTE: transformer only; see person_key.py).

Provisioning sessions keep their statements out of the server log (passwords, the key), and role
passwords are sent as SCRAM verifiers, never in clear.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from phwarehouse.quality import publication
from phwarehouse.settings import Settings
from phwarehouse.stack import person_key

TRANSFORMER_SCHEMAS = ("staging", "intermediate", "marts", "reference", "snapshots")
LOADER_SCHEMAS = ("raw", "ops")


def _ensure_role(cur: psycopg.Cursor, name: str, password: str) -> None:
    cur.execute("select 1 from pg_roles where rolname = %s", (name,))
    verb = "alter" if cur.fetchone() else "create"
    # a SCRAM verifier computed here (libpq): the password itself is never in SQL text
    verifier = cur.connection.pgconn.encrypt_password(
        password.encode(), name.encode(), b"scram-sha-256"
    )
    cur.execute(
        sql.SQL("{} role {} with login password {}").format(
            sql.SQL(verb), sql.Identifier(name), sql.Literal(verifier.decode())
        )
    )


#: how long one query of the BI role may run (a dashboard query takes seconds; a runaway query
#: typed in SQL Lab must not hold the warehouse); PHW_BI_STATEMENT_TIMEOUT overrides it
BI_STATEMENT_TIMEOUT = "120s"


def _limit_bi_role(cur: psycopg.Cursor, bi: str, statement_timeout: str) -> None:
    role = sql.Identifier(bi)
    for setting, value in (
        ("statement_timeout", statement_timeout),
        ("idle_in_transaction_session_timeout", "300s"),
        ("temp_file_limit", "1GB"),
    ):
        cur.execute(
            sql.SQL("alter role {} set {} = {}").format(
                role, sql.Identifier(setting), sql.Literal(value)
            )
        )


def _quality_schema(cur: psycopg.Cursor, ids: dict[str, sql.Identifier]) -> None:
    """`quality` belongs to the quality role (also when an earlier version gave it to the
    transformer); the transformer, which owns what the checks read, may read and write it too
    (it runs the gate where a worker lacks the quality role's credentials)."""
    q, t = ids["q"], ids["t"]
    cur.execute(sql.SQL("create schema if not exists quality authorization {}").format(q))
    cur.execute(sql.SQL("alter schema quality owner to {}").format(q))
    cur.execute("select tablename from pg_tables where schemaname = 'quality'")
    for (table,) in cur.fetchall():
        ident = sql.Identifier("quality", table)
        cur.execute(sql.SQL("alter table {} owner to {}").format(ident, q))
    cur.execute(sql.SQL("grant usage, create on schema quality to {}").format(t))
    cur.execute(
        sql.SQL(
            "grant select, insert, update, delete on all tables in schema quality to {}"
        ).format(t)
    )
    cur.execute(
        sql.SQL(
            "alter default privileges for role {} in schema quality"
            " grant select, insert, update, delete on tables to {}"
        ).format(q, t)
    )
    cur.execute(
        sql.SQL(
            "alter default privileges for role {} in schema quality"
            " grant select, insert, update, delete on tables to {}"
        ).format(t, q)
    )
    # what it validates besides raw and ops: the seeds (targets) of the transformer
    reference = sql.Identifier("reference")
    cur.execute(sql.SQL("grant usage on schema {} to {}").format(reference, q))
    cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(reference, q))
    cur.execute(
        sql.SQL(
            "alter default privileges for role {} in schema {} grant select on tables to {}"
        ).format(t, reference, q)
    )


def _ensure_database(cur: psycopg.Cursor, name: str, owner: str) -> None:
    cur.execute("select 1 from pg_database where datname = %s", (name,))
    if not cur.fetchone():
        cur.execute(
            sql.SQL("create database {} owner {} encoding 'UTF8' template template0").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )


def provision(settings: Settings) -> list[str]:
    """Create roles and databases and apply the warehouse grants (safe to repeat).
    Returns notices for the operator (e.g. a configured person key the warehouse does not use).
    """
    pg = settings.pg
    loader, loader_pw = settings.warehouse_role("loader")
    transformer, transformer_pw = settings.warehouse_role("transformer")
    bi, bi_pw = settings.warehouse_role("bi")
    quality, quality_pw = settings.warehouse_role("quality")
    with psycopg.connect(pg.admin_url(), autocommit=True) as conn, conn.cursor() as cur:
        person_key.quiet_logging(conn)
        _ensure_role(cur, loader, loader_pw)
        _ensure_role(cur, transformer, transformer_pw)
        _ensure_role(cur, bi, bi_pw)
        _ensure_role(cur, quality, quality_pw)
        for role in (
            transformer,
            bi,
            quality,
        ):  # JIT plans stacked dbt views badly on this workload
            cur.execute(sql.SQL("alter role {} set jit = off").format(sql.Identifier(role)))
        _limit_bi_role(cur, bi, settings.get("PHW_BI_STATEMENT_TIMEOUT", BI_STATEMENT_TIMEOUT))
        # dbt's whole-table models sort and hash millions of rows (2 threads): in memory
        transformer_id = sql.Identifier(transformer)
        cur.execute(sql.SQL("alter role {} set work_mem = '256MB'").format(transformer_id))
        if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in settings.values:
            _ensure_role(cur, "airflow", settings.get("AIRFLOW_DB_PASSWORD"))
            _ensure_database(cur, "airflow", "airflow")
        if "SUPERSET_DATABASE_URI" not in settings.values:
            _ensure_role(cur, "superset", settings.get("SUPERSET_DB_PASSWORD"))
            _ensure_database(cur, "superset", "superset")
        _ensure_database(cur, settings.warehouse_db, pg.admin_user)
        # only their owners (and the admin) connect to the metadata and maintenance databases
        cur.execute(
            "select datname from pg_database where datname in ('airflow', 'superset', 'postgres')"
        )
        for (other,) in cur.fetchall():
            cur.execute(
                sql.SQL("revoke connect, temporary on database {} from public").format(
                    sql.Identifier(other)
                )
            )

    with psycopg.connect(pg.admin_url(settings.warehouse_db), autocommit=True) as conn:
        person_key.quiet_logging(conn)
        cur = conn.cursor()
        db = sql.Identifier(settings.warehouse_db)
        roles = {"l": loader, "t": transformer, "b": bi, "q": quality}
        ids = {k: sql.Identifier(v) for k, v in roles.items()}
        cur.execute(sql.SQL("revoke all on database {} from public").format(db))
        cur.execute(
            sql.SQL("grant connect, temporary on database {} to {}, {}").format(
                db, ids["l"], ids["t"]
            )
        )
        # the BI role (Superset, SQL typed by people) connects and reads; no temp tables
        cur.execute(sql.SQL("grant connect on database {} to {}").format(db, ids["b"]))
        cur.execute(sql.SQL("grant connect on database {} to {}").format(db, ids["q"]))
        cur.execute(sql.SQL("revoke temporary on database {} from {}").format(db, ids["q"]))
        cur.execute(sql.SQL("revoke temporary on database {} from {}").format(db, ids["b"]))
        cur.execute(sql.SQL("grant create on database {} to {}").format(db, ids["t"]))
        cur.execute("revoke create on schema public from public")
        cur.execute("create extension if not exists pgcrypto")  # hmac() for the person key
        for schema in LOADER_SCHEMAS:
            s = sql.Identifier(schema)
            cur.execute(
                sql.SQL("create schema if not exists {} authorization {}").format(s, ids["l"])
            )
            for reader in (ids["t"], ids["q"]):
                cur.execute(sql.SQL("grant usage on schema {} to {}").format(s, reader))
                cur.execute(
                    sql.SQL("grant select on all tables in schema {} to {}").format(s, reader)
                )
                cur.execute(
                    sql.SQL(
                        "alter default privileges for role {} in schema {}"
                        " grant select on tables to {}"
                    ).format(ids["l"], s, reader)
                )
        for schema in TRANSFORMER_SCHEMAS:
            s = sql.Identifier(schema)
            cur.execute(
                sql.SQL("create schema if not exists {} authorization {}").format(s, ids["t"])
            )
        _quality_schema(cur, ids)
        marts = sql.Identifier("marts")
        cur.execute(sql.SQL("grant usage on schema {} to {}").format(marts, ids["b"]))
        cur.execute(
            sql.SQL("grant select on all tables in schema {} to {}").format(marts, ids["b"])
        )
        cur.execute(
            sql.SQL(
                "alter default privileges for role {} in schema {} grant select on tables to {}"
            ).format(ids["t"], marts, ids["b"])
        )
        # the quality gate (transformer) records each publication of the marts; exports read it
        publication.ensure_table(conn)
        cur.execute(sql.SQL("alter table ops.publications owner to {}").format(ids["l"]))
        cur.execute(
            sql.SQL("grant select, insert, update on ops.publications to {}").format(ids["t"])
        )
        cur.execute(sql.SQL("grant select on ops.publications to {}").format(ids["q"]))
        person_key.ensure_objects(conn, transformer)
        notice = person_key.sync_configured_key(conn, settings)
    return [notice] if notice else []
