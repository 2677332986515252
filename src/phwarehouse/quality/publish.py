"""Write-audit-publish: swap a validated `marts_candidate` into `marts`, keep one for rollback.

Publication is one transaction: `marts_previous` (the publication before last) is dropped,
`marts` is renamed `marts_previous`, `marts_candidate` is renamed `marts`, the BI role gets
read access to the new `marts` (privileges on a schema and its tables move with a rename; the
candidate schema was created by dbt without them) and loses it on `marts_previous`, and a row
of `ops.publications` records it. Readers see the old marts or the new ones, never a mix.
Before the renames the candidate's stamp table (`dashboard_publication`, the dashboards'
数据截至 / 发布编号 / 发布时间) gets the publication id and time: the stamp lives in the schema
it describes, so it travels with its marts.
Rollback swaps `marts` and `marts_previous` back and marks the current publication
`rolled_back`; `republish` undoes a rollback the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg
from psycopg import sql

from phwarehouse.quality import publication
from phwarehouse.quality.checks import CANDIDATE_SCHEMA, PREVIOUS_SCHEMA, PUBLISHED_SCHEMA

LOCK_KEY = 0x70687771  # advisory lock: one publication / rollback at a time
STAMP_TABLE = "dashboard_publication"  # dbt model of marts/dashboards, one row


class PublicationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Published:
    publication_id: str
    data_cutoff_date: date
    note: str


def _schema_exists(conn: psycopg.Connection, name: str) -> bool:
    return bool(conn.execute("select 1 from pg_namespace where nspname = %s", (name,)).fetchone())


def _grant_readers(
    conn: psycopg.Connection, schema: str, readers: list[str], default: bool = True
) -> None:
    """Usage and select on the schema's tables; with `default`, also on the tables this role
    (the transformer) creates there later (default privileges belong to the schema and move
    with a rename, like the grants)."""
    s = sql.Identifier(schema)
    for role in readers:
        ident = sql.Identifier(role)
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(s, ident))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(s, ident))
        if default:
            conn.execute(
                sql.SQL(
                    "alter default privileges in schema {} grant select on tables to {}"
                ).format(s, ident)
            )


def _revoke_readers(conn: psycopg.Connection, schema: str, readers: list[str]) -> None:
    s = sql.Identifier(schema)
    for role in readers:
        ident = sql.Identifier(role)
        conn.execute(sql.SQL("revoke usage on schema {} from {}").format(s, ident))
        conn.execute(
            sql.SQL("alter default privileges in schema {} revoke select on tables from {}").format(
                s, ident
            )
        )


def _rename(conn: psycopg.Connection, old: str, new: str) -> None:
    conn.execute(
        sql.SQL("alter schema {} rename to {}").format(sql.Identifier(old), sql.Identifier(new))
    )


def _stamp(conn: psycopg.Connection, schema: str, publication_id: str) -> None:
    """Write the publication into the schema's stamp table. `now()` is the transaction's start:
    the instant `ops.publications.published_at` records, as wall-clock time in the table's
    time zone."""
    table = sql.Identifier(schema, STAMP_TABLE)
    if conn.execute("select to_regclass(%s)", (f"{schema}.{STAMP_TABLE}",)).fetchone()[0] is None:
        raise PublicationError(f"no {schema}.{STAMP_TABLE} to stamp (dbt built only some marts)")
    stamped = conn.execute(
        sql.SQL(
            "update {} set publication_id = %s, published_at = now() at time zone time_zone"
        ).format(table),
        (publication_id,),
    ).rowcount
    if stamped != 1:
        raise PublicationError(f"{schema}.{STAMP_TABLE} has {stamped} rows, not one")


def publish(
    dsn: str,
    data_cutoff_date: date,
    readers: list[str],
    checks_run: int = 0,
    warnings: int = 0,
    note: str | None = None,
) -> Published:
    """Swap `marts_candidate` into `marts` atomically; returns the new publication."""
    publication_id = datetime.now(UTC).strftime("pub-%Y%m%dT%H%M%S%fZ")
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        if not _schema_exists(conn, CANDIDATE_SCHEMA):
            raise PublicationError(f"no {CANDIDATE_SCHEMA} schema to publish (dbt built none)")
        _stamp(conn, CANDIDATE_SCHEMA, publication_id)
        _grant_readers(conn, CANDIDATE_SCHEMA, readers)
        conn.execute(
            sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(PREVIOUS_SCHEMA))
        )
        if _schema_exists(conn, PUBLISHED_SCHEMA):
            _rename(conn, PUBLISHED_SCHEMA, PREVIOUS_SCHEMA)
            _revoke_readers(conn, PREVIOUS_SCHEMA, readers)
        _rename(conn, CANDIDATE_SCHEMA, PUBLISHED_SCHEMA)
        conn.execute(
            "insert into ops.publications (publication_id, data_cutoff_date, candidate_schema,"
            " checks_run, warnings, status, note) values (%s, %s, %s, %s, %s, 'published', %s)",
            (publication_id, data_cutoff_date, CANDIDATE_SCHEMA, checks_run, warnings, note),
        )
    return Published(publication_id, data_cutoff_date, note or "")


def grant_candidate(dsn: str, roles: list[str]) -> None:
    """Let the quality gate's role read `marts_candidate` (dbt created it without grants)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if _schema_exists(conn, CANDIDATE_SCHEMA):
            _grant_readers(conn, CANDIDATE_SCHEMA, roles, default=False)


def rollback(dsn: str, readers: list[str], note: str = "rolled back by hand") -> str:
    """Put the previous publication back into `marts`; returns the publication now current."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        current = publication.current_publication(conn)
        if current is None or not _schema_exists(conn, PREVIOUS_SCHEMA):
            raise PublicationError("nothing to roll back to: no previous publication is kept")
        _swap_published_and_previous(conn, readers)
        conn.execute(
            "update ops.publications set status = 'rolled_back',"
            " note = concat_ws('; ', note, %s::text) where publication_id = %s",
            (note, current.publication_id),
        )
        now = publication.current_publication(conn)
    return now.publication_id if now else "(none)"


def republish(dsn: str, readers: list[str], note: str = "re-published by hand") -> str:
    """Undo the last rollback: the rolled-back publication (kept in marts_previous) is current."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        row = conn.execute(
            "select publication_id, status from ops.publications"
            " order by published_at desc, publication_id desc limit 1"
        ).fetchone()
        if not row or row[1] != "rolled_back" or not _schema_exists(conn, PREVIOUS_SCHEMA):
            raise PublicationError("the newest publication is not rolled back: nothing to redo")
        _swap_published_and_previous(conn, readers)
        conn.execute(
            "update ops.publications set status = 'published',"
            " note = concat_ws('; ', note, %s::text) where publication_id = %s",
            (note, row[0]),
        )
    return row[0]


def _swap_published_and_previous(conn: psycopg.Connection, readers: list[str]) -> None:
    swap = "marts_swap"
    _rename(conn, PUBLISHED_SCHEMA, swap)
    _rename(conn, PREVIOUS_SCHEMA, PUBLISHED_SCHEMA)
    _rename(conn, swap, PREVIOUS_SCHEMA)
    _grant_readers(conn, PUBLISHED_SCHEMA, readers)
    _revoke_readers(conn, PREVIOUS_SCHEMA, readers)


def checksum(conn: psycopg.Connection, schema: str = PUBLISHED_SCHEMA) -> dict[str, str]:
    """md5 of every table of a schema, rows in a fixed order: equal checksums, equal content."""
    tables = [
        t
        for (t,) in conn.execute(
            "select tablename from pg_tables where schemaname = %s order by 1", (schema,)
        ).fetchall()
    ]
    sums = {}
    for table in tables:
        ident = sql.Identifier(schema, table)
        rows = conn.execute(
            sql.SQL("select t::text from {} as t order by 1").format(ident)
        ).fetchall()
        digest = hashlib.md5(usedforsecurity=False)
        for (row,) in rows:
            digest.update(row.encode())
            digest.update(b"\n")
        sums[table] = digest.hexdigest()
    return sums
