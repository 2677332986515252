"""The merge of a chunk into raw: flags across chunks and within one, repeats, received texts.

New versions are COPYed straight into raw.<entity> with flags computed in Python; versions
already stored go through staging; records with stored versions get their flags recomputed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest
from tests.conftest import wipe_raw

from phwarehouse.ingestion import raw_store
from phwarehouse.ingestion.contracts import contract_for
from phwarehouse.ingestion.raw_store import LoadCounts, ValidRecord
from phwarehouse.ingestion.validation import validate

pytestmark = pytest.mark.warehouse

ENTITY = "htn_followups"
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def version(record_id: str, number: int, deleted: bool = False, sbp: int = 135) -> ValidRecord:
    text = json.dumps(
        {
            "record_id": record_id,
            "version": number,
            "updated_at": f"2026-03-0{number}T08:00:00Z",
            "deleted": deleted,
            "person_record_id": "R0001",
            "followup_date": "2026-03-01",
            "sbp": sbp,
            "note": 'tab\there, newline\\n, backslash \\\\ and "quotes"',
        },
        ensure_ascii=False,
        indent=1,  # whitespace between tokens, as a platform may send
    )
    record = validate(contract_for(ENTITY), json.loads(text), text)
    assert isinstance(record, ValidRecord) and record.payload_text == text
    return record


@pytest.fixture
def conn(warehouse_settings, admin_dsn: str, loader_dsn: str):
    wipe_raw(admin_dsn)
    with psycopg.connect(loader_dsn) as connection:
        raw_store.ensure_ops_tables(connection)
        raw_store.ensure_entity_table(connection, ENTITY)
        connection.commit()
        yield connection


@pytest.fixture(params=["looked up in the table", "tracked by the run"])
def loaded(request) -> raw_store.LoadedVersions | None:
    """How a chunk learns the stored versions: from the table, or (a first load, the table
    empty when the run began) from what the run stored itself. Both must give the same."""
    return raw_store.LoadedVersions() if request.param == "tracked by the run" else None


def load(
    conn: psycopg.Connection,
    batch: str,
    *records: ValidRecord,
    loaded: raw_store.LoadedVersions | None = None,
) -> LoadCounts:
    counts = raw_store.load_records(conn, ENTITY, batch, NOW, list(records), [], loaded=loaded)
    conn.commit()
    assert counts.reconciles, counts
    return counts


def flags(conn: psycopg.Connection) -> dict[tuple[str, int], tuple[bool, bool]]:
    rows = conn.execute(f"select record_id, version, is_latest, is_deleted from raw.{ENTITY}")
    return {(r, v): (latest, deleted) for r, v, latest, deleted in rows}


def test_flags_within_a_chunk_and_across_chunks(conn: psycopg.Connection, loaded) -> None:
    load(
        conn,
        "b1",
        version("A", 2),
        version("A", 1),
        version("B", 1),
        version("C", 1),
        loaded=loaded,
    )
    assert flags(conn) == {
        ("A", 1): (False, False),
        ("A", 2): (True, False),
        ("B", 1): (True, False),
        ("C", 1): (True, False),
    }
    # a newer tombstone, a late older version, and a version beside a stored one
    counts = load(
        conn, "b2", version("B", 2, deleted=True), version("C", 3), version("A", 3), loaded=loaded
    )
    assert counts.loaded == 3
    load(conn, "b3", version("C", 2), loaded=loaded)
    assert flags(conn) == {
        ("A", 1): (False, False),
        ("A", 2): (False, False),
        ("A", 3): (True, False),
        ("B", 1): (False, True),
        ("B", 2): (True, True),
        ("C", 1): (False, False),
        ("C", 2): (False, False),
        ("C", 3): (True, False),
    }


def test_repeats_within_a_chunk_and_of_stored_versions(conn: psycopg.Connection, loaded) -> None:
    counts = load(
        conn, "b1", version("A", 1), version("A", 1), version("A", 1, sbp=150), loaded=loaded
    )
    assert (counts.received, counts.loaded, counts.duplicates, counts.conflicts) == (3, 1, 1, 1)
    counts = load(
        conn, "b2", version("A", 1), version("A", 1, sbp=160), version("A", 2), loaded=loaded
    )
    assert (counts.received, counts.loaded, counts.duplicates, counts.conflicts) == (3, 1, 1, 1)
    stored = conn.execute(
        f"select version, payload ->> 'sbp', payload ->> 'note' from raw.{ENTITY} order by 1"
    ).fetchall()
    note = 'tab\there, newline\\n, backslash \\\\ and "quotes"'
    assert stored == [(1, "135", note), (2, "135", note)]
    assert flags(conn) == {("A", 1): (False, False), ("A", 2): (True, False)}
    quarantined = conn.execute(
        "select payload::jsonb ->> 'sbp' from raw.quarantine order by quarantine_id"
    ).fetchall()
    assert quarantined == [("150",), ("160",)]


def test_a_replayed_chunk_changes_nothing(conn: psycopg.Connection, loaded) -> None:
    chunk = [version("A", 1), version("A", 2, deleted=True), version("B", 1)]
    load(conn, "b1", *chunk, loaded=loaded)
    before = conn.execute(f"select * from raw.{ENTITY} order by 1, 2").fetchall()
    counts = load(conn, "b2", *chunk, loaded=loaded)
    assert (counts.loaded, counts.duplicates, counts.deletions) == (0, 3, 1)
    assert conn.execute(f"select * from raw.{ENTITY} order by 1, 2").fetchall() == before


def indexes(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "select indexname from pg_indexes where schemaname = 'raw' and tablename = %s", (ENTITY,)
    )
    return {name for (name,) in rows}


def test_the_raw_table_keeps_only_the_indexes_its_readers_use(conn: psycopg.Connection) -> None:
    """The key, loaded_at (incremental staging, quality gate) and the versions with field
    issues; a table of an earlier release loses its is_latest and source_updated_at indexes,
    and its rows and flags are untouched."""
    wanted = {f"{ENTITY}_pkey", f"{ENTITY}_loaded_idx", f"{ENTITY}_issues_idx"}
    assert indexes(conn) == wanted
    load(conn, "b1", version("A", 1), version("A", 2), version("B", 1, deleted=True))
    conn.execute(f"create index {ENTITY}_latest_idx on raw.{ENTITY} (record_id) where is_latest")
    conn.execute(f"create index {ENTITY}_updated_idx on raw.{ENTITY} (source_updated_at)")
    conn.commit()
    before = conn.execute(f"select * from raw.{ENTITY} order by 1, 2").fetchall()
    raw_store.ensure_entity_table(conn, ENTITY)
    conn.commit()
    assert indexes(conn) == wanted
    assert conn.execute(f"select * from raw.{ENTITY} order by 1, 2").fetchall() == before
    load(conn, "b2", version("A", 3))
    assert flags(conn)[("A", 2)] == (False, False)
    assert flags(conn)[("A", 3)] == (True, False)


def test_loaded_versions_answer_as_the_table_would() -> None:
    loaded = raw_store.LoadedVersions()
    for record_id, number in [("A", 1), ("A", 1), ("A", 3), ("B", 2), ("A", 2), ("A", 3)]:
        loaded.add(record_id, number)
    assert loaded.stored(["A", "B", "C"]) == {"A": {1, 2, 3}, "B": {2}}
