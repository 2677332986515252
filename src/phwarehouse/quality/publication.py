"""Publications of the marts: which build the dashboards and the exports read.

dbt builds the marts into a candidate schema; the quality gate validates it; a passing
candidate is published by swapping it into `marts`. Every publication is a row of
`ops.publications`; the current one is the newest row with status `published` (a rollback
marks the current row `rolled_back`, which makes the one before it current again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg

DDL = """
create schema if not exists ops;
create table if not exists ops.publications (
    publication_id text primary key,
    data_cutoff_date date not null,
    published_at timestamptz not null default now(),
    candidate_schema text not null,
    checks_run integer not null default 0,
    warnings integer not null default 0,
    status text not null default 'published'
        check (status in ('published', 'rolled_back')),
    note text
);
"""


@dataclass(frozen=True)
class Publication:
    publication_id: str
    data_cutoff_date: date
    published_at: datetime


def ensure_table(conn: psycopg.Connection) -> None:
    """Create `ops.publications` when missing (idempotent)."""
    conn.execute(DDL)


def current_publication(conn: psycopg.Connection) -> Publication | None:
    """The publication `marts` holds now, or None when nothing was ever published."""
    row = conn.execute("select to_regclass('ops.publications') is not null").fetchone()
    if not row or not row[0]:
        return None
    row = conn.execute(
        """
        select publication_id, data_cutoff_date, published_at
        from ops.publications
        where status = 'published'
        order by published_at desc, publication_id desc
        limit 1
        """
    ).fetchone()
    return Publication(*row) if row else None
