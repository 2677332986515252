"""The merge of a chunk into raw: flags across chunks and within one, repeats, received texts.

New versions are COPYed straight into raw.<entity> with flags computed in Python; versions
already stored go through staging; records with stored versions get their flags recomputed.
A first load (raw_store.FirstLoad: one transaction, key and indexes built at the end) stores
what the same chunks loaded one by one store.
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
from phwarehouse.ingestion.validation import validate, validate_received

pytestmark = pytest.mark.warehouse

ENTITY = "htn_followups"
NOW = datetime(2026, 11, 23, tzinfo=UTC)
#: the indexes raw.<entity> keeps: its key, loaded_at and the versions with field issues
INDEXES = {f"{ENTITY}_pkey", f"{ENTITY}_loaded_idx", f"{ENTITY}_issues_idx"}


def version(
    record_id: str, number: int, deleted: bool = False, sbp: int = 135, received: bool = False
) -> ValidRecord:
    """A version of a record with a note to escape, between tokens whitespace to keep.
    `received`: as the client gets it (bytes; a clean record keeps them for the COPY)."""
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
    if received:
        record = validate_received(contract_for(ENTITY), text.encode())
        kept = None if deleted else text.encode()  # a tombstone takes `validate`
        assert isinstance(record, ValidRecord) and record.payload_text in (kept, text)
        return record
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


def load(conn: psycopg.Connection, batch: str, *records: ValidRecord) -> LoadCounts:
    counts = raw_store.load_records(conn, ENTITY, batch, NOW, list(records), [])
    conn.commit()
    assert counts.reconciles, counts
    return counts


def flags(conn: psycopg.Connection) -> dict[tuple[str, int], tuple[bool, bool]]:
    rows = conn.execute(f"select record_id, version, is_latest, is_deleted from raw.{ENTITY}")
    return {(r, v): (latest, deleted) for r, v, latest, deleted in rows}


def test_flags_within_a_chunk_and_across_chunks(conn: psycopg.Connection) -> None:
    load(
        conn,
        "b1",
        version("A", 2),
        version("A", 1),
        version("B", 1),
        version("C", 1),
    )
    assert flags(conn) == {
        ("A", 1): (False, False),
        ("A", 2): (True, False),
        ("B", 1): (True, False),
        ("C", 1): (True, False),
    }
    # a newer tombstone, a late older version, and a version beside a stored one
    counts = load(conn, "b2", version("B", 2, deleted=True), version("C", 3), version("A", 3))
    assert counts.loaded == 3
    load(conn, "b3", version("C", 2))
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


@pytest.mark.parametrize("received", [False, True], ids=["text", "received-bytes"])
def test_repeats_within_a_chunk_and_of_stored_versions(
    conn: psycopg.Connection, received: bool
) -> None:
    """New versions (COPY) and repeats (staging) store the note as sent, whether the record
    kept its text (`validate`) or the bytes received (the clean path)."""

    def v(record_id: str, number: int, sbp: int = 135) -> ValidRecord:
        return version(record_id, number, sbp=sbp, received=received)

    counts = load(conn, "b1", v("A", 1), v("A", 1), v("A", 1, sbp=150))
    assert (counts.received, counts.loaded, counts.duplicates, counts.conflicts) == (3, 1, 1, 1)
    counts = load(conn, "b2", v("A", 1), v("A", 1, sbp=160), v("A", 2))
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


def test_a_replayed_chunk_changes_nothing(conn: psycopg.Connection) -> None:
    chunk = [version("A", 1), version("A", 2, deleted=True), version("B", 1)]
    load(conn, "b1", *chunk)
    before = conn.execute(f"select * from raw.{ENTITY} order by 1, 2").fetchall()
    counts = load(conn, "b2", *chunk)
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
    assert indexes(conn) == INDEXES
    load(conn, "b1", version("A", 1), version("A", 2), version("B", 1, deleted=True))
    conn.execute(f"create index {ENTITY}_latest_idx on raw.{ENTITY} (record_id) where is_latest")
    conn.execute(f"create index {ENTITY}_updated_idx on raw.{ENTITY} (source_updated_at)")
    conn.commit()
    before = conn.execute(f"select * from raw.{ENTITY} order by 1, 2").fetchall()
    raw_store.ensure_entity_table(conn, ENTITY)
    conn.commit()
    assert indexes(conn) == INDEXES
    assert conn.execute(f"select * from raw.{ENTITY} order by 1, 2").fetchall() == before
    load(conn, "b2", version("A", 3))
    assert flags(conn)[("A", 2)] == (False, False)
    assert flags(conn)[("A", 3)] == (True, False)


def test_loaded_versions_answer_as_the_table_would() -> None:
    loaded = raw_store.LoadedVersions()
    loaded.add_all([("A", 1), ("A", 1), ("A", 3), ("B", 2)])
    loaded.add_all([("A", 2), ("A", 3)])
    assert loaded.stored(["A", "B", "C"]) == {"A": {1, 2, 3}, "B": {2}}


#: chunk sequences of one run: versions across chunks (a newer tombstone, a late older
#: version), repeats within a chunk and of earlier chunks (same or conflicting content), a
#: replayed chunk
RUNS = {
    "flags across chunks": [
        [version("A", 2), version("A", 1), version("B", 1), version("C", 1)],
        [version("B", 2, deleted=True), version("C", 3), version("A", 3)],
        [version("C", 2)],
    ],
    "repeats": [
        [version("A", 1), version("A", 1), version("A", 1, sbp=150)],
        [version("A", 1), version("A", 1, sbp=160), version("A", 2)],
        [version("A", 1, sbp=150), version("B", 1)],
    ],
    "replayed chunk": [
        [version("A", 1), version("A", 2, deleted=True), version("B", 1)],
        [version("A", 1), version("A", 2, deleted=True), version("B", 1)],
    ],
    "tombstone, then an older version; deleted, then restored": [
        [version("A", 2, deleted=True), version("B", 1), version("B", 2, deleted=True)],
        [version("A", 1), version("B", 3)],
    ],
}
#: rejected rows of every run: one in its first chunk, received again in its second
REJECTED = raw_store.RejectedRecord("missing_record_id", '{"version": 1}')


def stored_state(conn: psycopg.Connection) -> tuple[list, list]:
    """Every column of raw.<entity> but loaded_at, and the quarantine's rows."""
    rows = conn.execute(
        f"select record_id, version, source_updated_at, is_deleted, is_latest, payload,"
        f" field_issues, batch_id, extracted_at from raw.{ENTITY} order by 1, 2"
    ).fetchall()
    quarantined = conn.execute(
        "select entity, batch_id, record_id, reason, payload from raw.quarantine order by 5"
    ).fetchall()
    return rows, quarantined


def rejected(chunk_number: int) -> list[raw_store.RejectedRecord]:
    return [REJECTED] if chunk_number < 2 else []


def first_load(conn: psycopg.Connection, chunks: list[list[ValidRecord]]) -> LoadCounts:
    run = raw_store.FirstLoad(ENTITY, "run", NOW)
    total = LoadCounts()
    for number, chunk in enumerate(chunks):
        total.add(
            raw_store.load_records(
                conn, ENTITY, "run", NOW, chunk, rejected(number), first_load=run
            )
        )
    total.add(run.finish(conn))
    conn.commit()
    return total


@pytest.mark.parametrize("run", RUNS)
def test_a_first_load_stores_what_chunk_by_chunk_loads_store(
    conn: psycopg.Connection, run: str
) -> None:
    chunked = LoadCounts()
    for number, chunk in enumerate(RUNS[run]):
        counts = raw_store.load_records(conn, ENTITY, "run", NOW, chunk, rejected(number))
        conn.commit()
        chunked.add(counts)
    expected = stored_state(conn)
    assert chunked.reconciles and chunked.quarantined == 1
    conn.execute(f"truncate raw.{ENTITY}, raw.quarantine")
    conn.commit()
    counts = first_load(conn, RUNS[run])
    assert counts.reconciles and counts == chunked
    assert stored_state(conn) == expected
    assert indexes(conn) == INDEXES
    unique = conn.execute(
        "select indisunique and indisprimary from pg_index where indexrelid = %s::regclass",
        (f"raw.{ENTITY}_pkey",),
    ).fetchone()
    assert unique == (True,)


def test_the_expected_figures_of_a_first_load(conn: psycopg.Connection) -> None:
    """Worked out by hand from RUNS["repeats"] (8 versions): A1 (sbp 135), A2 and B1 are
    loaded; chunk one's second A1 is a duplicate and its A1 at 150 a conflict (quarantined);
    chunk two's A1 at 135 a duplicate and at 160 a conflict; chunk three's A1 at 150 a
    duplicate (that content is in quarantine already)."""
    counts = first_load(conn, RUNS["repeats"])
    # and the rejected row: quarantined once, then a duplicate
    assert (counts.received, counts.loaded, counts.duplicates, counts.conflicts) == (10, 3, 4, 2)
    assert counts.quarantined == 1
    assert flags(conn) == {
        ("A", 1): (False, False),
        ("A", 2): (True, False),
        ("B", 1): (True, False),
    }
    assert conn.execute(
        "select payload::jsonb ->> 'sbp' from raw.quarantine where reason = 'conflicting_version'"
        " order by quarantine_id"
    ).fetchall() == [("150",), ("160",)]


def test_a_first_load_with_nothing_to_store_keeps_the_table_s_indexes(
    conn: psycopg.Connection,
) -> None:
    run = raw_store.FirstLoad(ENTITY, "run", NOW)
    counts = raw_store.load_records(conn, ENTITY, "run", NOW, [], [REJECTED], first_load=run)
    assert (counts.received, counts.quarantined) == (1, 1)
    assert indexes(conn) == INDEXES  # in the run's transaction: nothing was dropped
    assert run.finish(conn) == LoadCounts()
    conn.commit()
    assert indexes(conn) == INDEXES


def test_a_first_load_that_fails_leaves_the_table_as_it_was(conn: psycopg.Connection) -> None:
    run = raw_store.FirstLoad(ENTITY, "run", NOW)
    raw_store.load_records(conn, ENTITY, "run", NOW, [version("A", 1)], [], first_load=run)
    assert indexes(conn) == set()  # begun: key and indexes dropped until `finish`
    conn.rollback()  # what ingest_entity does when a run fails
    assert conn.execute(f"select count(*) from raw.{ENTITY}").fetchone() == (0,)
    assert indexes(conn) == INDEXES
    load(conn, "later", version("A", 1))
    with pytest.raises(psycopg.errors.UniqueViolation):  # the key is enforced again
        conn.execute(
            f"insert into raw.{ENTITY} (record_id, version, source_updated_at, payload,"
            " batch_id, extracted_at) values ('A', 1, now(), '{}', 'x', now())"
        )
    conn.rollback()


def test_utf8_lines_are_read_as_utf8_whatever_the_session_encoding(
    conn: psycopg.Connection,
) -> None:
    """The COPY lines are UTF-8 bytes sent as they are: a session set to another encoding
    (PGCLIENTENCODING) is put back to UTF-8 by the load, so the text is stored as sent."""
    text = json.dumps(
        {
            "record_id": "CN",
            "version": 1,
            "updated_at": "2026-03-01T08:00:00Z",
            "person_record_id": "R0001",
            "followup_date": "2026-03-01",
            "doctor_name": "王五",
        },
        ensure_ascii=False,
    )
    record = validate_received(contract_for(ENTITY), text.encode())
    assert isinstance(record, ValidRecord) and record.payload_text == text.encode()
    conn.execute("set client_encoding to 'LATIN1'")
    conn.commit()
    load(conn, "b1", record)
    stored = conn.execute(f"select payload ->> 'doctor_name' from raw.{ENTITY}").fetchone()
    assert stored == ("王五",)
