"""The load audit tells the truth after a crash: a run killed mid-way leaves a `running` row that
the next run of the entity closes as failed, and a platform that does not answer leaves a failed
row naming the error (it used to leave nothing)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import psycopg
import pytest
from tests.conftest import wipe_raw

from phwarehouse.ingestion import platform_ingest
from phwarehouse.ingestion.client import PlatformClient, PlatformError
from phwarehouse.pipeline import ingest_tasks, runtime
from phwarehouse.stack.processes import free_port

pytestmark = pytest.mark.warehouse

UNTIL = datetime(2026, 11, 23, tzinfo=UTC)


class EmptyFeed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"data": [], "next_cursor": None}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_killed_run_s_running_row_is_closed_by_the_next_run(
    warehouse_settings, admin_dsn: str, loader_dsn: str
) -> None:
    wipe_raw(admin_dsn)
    server = ThreadingHTTPServer(("127.0.0.1", 0), EmptyFeed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with PlatformClient(url, "t") as client:
            platform_ingest.ingest_entity(loader_dsn, client, "deaths", "first", UNTIL)
            # a task killed mid-run (SIGKILL: no except clause ran) leaves its row running
            with psycopg.connect(admin_dsn) as conn:
                conn.execute(
                    "insert into ops.load_audit (batch_id, entity, source, started_at, status)"
                    " values ('killed', 'deaths', 'api', now() - interval '1 hour', 'running')"
                )
            platform_ingest.ingest_entity(loader_dsn, client, "deaths", "next", UNTIL)
    finally:
        server.shutdown()
        server.server_close()
    with psycopg.connect(admin_dsn) as conn:
        rows = {
            batch: rest
            for batch, *rest in conn.execute(
                "select batch_id, status, finished_at is not null, coalesce(error, '')"
                " from ops.load_audit where entity = 'deaths'"
            )
        }
    status, finished, error = rows["killed"]
    assert (status, finished) == ("failed", True)
    assert "abandoned" in error and "next" in error
    assert rows["next"][0] == "success" and rows["first"][0] == "success"


def test_a_platform_that_does_not_answer_leaves_a_failed_audit_row(
    warehouse_settings, admin_dsn: str, loader_dsn: str, monkeypatch
) -> None:
    wipe_raw(admin_dsn)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setattr(
        runtime,
        "platform_client",
        lambda: PlatformClient(dead, "t", max_attempts=2, backoff_base=0.01, backoff_cap=0.02),
    )
    monkeypatch.setattr(runtime, "warehouse_dsn", lambda role: loader_dsn)
    context = {
        "dag_run": SimpleNamespace(run_id="scheduled__2026-11-23"),
        "ti": SimpleNamespace(try_number=1),
    }
    with pytest.raises(PlatformError):
        ingest_tasks.entities_to_ingest(context)
    with psycopg.connect(admin_dsn) as conn:
        row = conn.execute(
            "select entity, status, error from ops.load_audit"
            " where batch_id = 'scheduled__2026-11-23#1'"
        ).fetchone()
    assert row is not None
    entity, status, error = row
    assert (entity, status) == (ingest_tasks.ENTITY_LIST, "failed")
    assert "failed after 2 attempts" in error
