"""Poison records, wrong-type fields and conflicting versions through the real HTTP client.

Each case was reproduced on the stack before the fix: a NUL, a lone surrogate, a version of 2^40
or `deleted: "maybe"` failed the whole chunk, so the watermark never moved and every retry failed
the same way; a wrong-type numeric field quarantined the whole visit; the same (record_id,
version) with a different content was counted as a harmless duplicate.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from tests.conftest import wipe_raw

from phwarehouse.ingestion import raw_store
from phwarehouse.ingestion.client import PlatformClient
from phwarehouse.ingestion.platform_ingest import ingest_entity

pytestmark = pytest.mark.warehouse

ENTITY = "htn_followups"
UNTIL = datetime(2026, 11, 23, tzinfo=UTC)


def followup(record_id: str, version: int = 1, **fields) -> dict:
    return {
        "record_id": record_id,
        "version": version,
        "updated_at": "2026-03-01T08:00:00Z",
        "deleted": False,
        "person_record_id": "R0001",
        "facility_code": "F01",
        "followup_date": "2026-03-01",
        "followup_mode": "face_to_face",
        "sbp": 135,
        "dbp": 85,
        **fields,
    }


# JSON texts as the platform would send them (escapes kept: \u0000 and \ud800 are valid JSON)
POISON = [
    (
        '{"record_id": "HF-NUL", "version": 1, "updated_at": "2026-03-01T08:00:00Z",'
        ' "person_record_id": "R0001", "followup_date": "2026-03-01", "doctor_name": "王\\u0000"}'
    ),
    (
        '{"record_id": "HF-SURR", "version": 1, "updated_at": "2026-03-01T08:00:00Z",'
        ' "person_record_id": "R0001", "followup_date": "2026-03-01", "doctor_name": "\\ud800"}'
    ),
    (
        '{"record_id": "HF\\u0000ID", "version": 1, "updated_at": "2026-03-01T08:00:00Z",'
        ' "person_record_id": "R0001", "followup_date": "2026-03-01"}'
    ),
    json.dumps(followup("HF-BIGVER", version=2**40)),
    json.dumps(followup("HF-MAYBE", deleted="maybe")),
    json.dumps(followup("HF-TEXT-DBP", dbp="一百二")),
    '{"record_id": "HF-INF", "version": 1, "updated_at": "2026-03-01T08:00:00Z",'
    ' "person_record_id": "R0001", "followup_date": "2026-03-01", "weight_kg": 1e400}',
]
GOOD = [followup(f"HF-GOOD-{i}") for i in range(3)]


class Feed:
    """What the fake platform serves: one page of raw JSON record texts."""

    def __init__(self) -> None:
        self.records: list[str] = []

    def body(self) -> bytes:
        return ('{"data": [' + ",".join(self.records) + '], "next_cursor": null}').encode()


@contextmanager
def platform(feed: Feed) -> Iterator[PlatformClient]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = feed.body()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with PlatformClient(url, "t", page_size=500, backoff_base=0.01) as client:
            yield client
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clean_raw(warehouse_settings, admin_dsn: str) -> None:
    wipe_raw(admin_dsn)


def _ingest(loader_dsn: str, feed: Feed, batch: str):
    with platform(feed) as client:
        return ingest_entity(loader_dsn, client, ENTITY, batch, UNTIL)


def test_poison_records_are_quarantined_and_the_entity_moves_on(
    clean_raw, loader_dsn: str, admin_dsn: str
) -> None:
    feed = Feed()
    feed.records = POISON + [json.dumps(r) for r in GOOD]
    result = _ingest(loader_dsn, feed, "poison-1")
    counts = result.counts
    # 3 good + NUL name + surrogate name + text dbp + infinite weight kept; 3 quarantined
    assert (counts.received, counts.loaded, counts.quarantined) == (10, 7, 3)
    assert counts.reconciles and counts.duplicates == 0 and counts.conflicts == 0
    assert result.watermark_to == datetime(2026, 3, 1, 8, tzinfo=UTC)  # the watermark moved
    with psycopg.connect(admin_dsn) as conn:
        reasons = dict(
            conn.execute(
                "select record_id, reason from raw.quarantine where entity = %s", (ENTITY,)
            )
        )
        issues = dict(
            conn.execute(
                f"select record_id, field_issues from raw.{ENTITY} where field_issues is not null"
            )
        )
        stored = conn.execute(
            f"select payload from raw.{ENTITY} where record_id = 'HF-NUL'"
        ).fetchone()[0]
        audit = conn.execute(
            "select status, received, loaded, quarantined from ops.load_audit"
            " where batch_id = 'poison-1'"
        ).fetchone()
    assert reasons == {
        None: "invalid_record_id",
        "HF-BIGVER": "invalid_version",
        "HF-MAYBE": "invalid_deleted_flag",
    }
    assert issues == {
        "HF-NUL": [{"field": "doctor_name", "reason": "unstorable_value", "value": None}],
        "HF-SURR": [{"field": "doctor_name", "reason": "unstorable_value", "value": None}],
        "HF-TEXT-DBP": [{"field": "dbp", "reason": "wrong_type", "value": "一百二"}],
        "HF-INF": [{"field": "weight_kg", "reason": "unstorable_value", "value": None}],
    }
    assert stored["doctor_name"] is None and stored["person_record_id"] == "R0001"
    assert audit == ("success", 10, 7, 3)
    # the next run reads after the watermark: nothing again, nothing fails
    again = _ingest(loader_dsn, feed, "poison-2")
    assert again.counts.loaded == 0 and again.counts.reconciles


def test_a_conflicting_version_is_quarantined_not_counted_as_a_duplicate(
    clean_raw, loader_dsn: str, admin_dsn: str
) -> None:
    feed = Feed()
    feed.records = [json.dumps(followup("HF-1", sbp=135))]
    assert _ingest(loader_dsn, feed, "c-1").counts.loaded == 1
    # the same version again: once as sent, once as the monthly XLSX shows it (no deleted
    # flag, empty cells absent, 135.0) and once with a different reading
    same_as_xlsx = {k: v for k, v in followup("HF-1", sbp=135.0).items() if k != "deleted"}
    feed.records = [
        json.dumps(followup("HF-1", sbp=135)),
        json.dumps({**same_as_xlsx, "doctor_name": None}),
        json.dumps(followup("HF-1", sbp=150)),
    ]
    with psycopg.connect(admin_dsn) as conn:
        conn.execute("delete from ops.watermarks")  # a replay from the start
    counts = _ingest(loader_dsn, feed, "c-2").counts
    assert (counts.received, counts.loaded, counts.duplicates, counts.conflicts) == (3, 0, 2, 1)
    assert counts.reconciles
    with psycopg.connect(admin_dsn) as conn:
        kept = conn.execute(f"select payload ->> 'sbp' from raw.{ENTITY}").fetchall()
        conflict = conn.execute(
            "select record_id, reason, payload::jsonb ->> 'sbp' from raw.quarantine"
        ).fetchall()
        audit = conn.execute(
            "select duplicates, conflicts from ops.load_audit where batch_id = 'c-2'"
        ).fetchone()
    assert kept == [("135",)]  # the first content received stays
    assert conflict == [("HF-1", "conflicting_version", "150")]
    assert audit == (2, 1)
    # the conflict replayed is a duplicate of the quarantined row, not a second conflict
    feed.records = [json.dumps(followup("HF-1", sbp=150))]
    with psycopg.connect(admin_dsn) as conn:
        conn.execute("delete from ops.watermarks")
    replay = _ingest(loader_dsn, feed, "c-3").counts
    assert (replay.duplicates, replay.conflicts) == (1, 0)


def test_only_a_first_load_skips_the_stored_version_lookups(
    clean_raw, loader_dsn: str, monkeypatch
) -> None:
    """On an empty table the run knows every stored version (what it loaded itself, under the
    entity's lock); once the table has rows, each chunk looks them up again."""

    def refuse(*args):
        raise AssertionError("looked up stored versions")

    monkeypatch.setattr(raw_store, "_stored_versions", refuse)
    feed = Feed()
    feed.records = [json.dumps(r) for r in GOOD]
    assert _ingest(loader_dsn, feed, "first").counts.loaded == 3
    with pytest.raises(AssertionError, match="looked up stored versions"):
        _ingest(loader_dsn, feed, "replay")
