from __future__ import annotations

import json
import threading

import httpx
import pytest
from platform_helpers import raw_lines

from phwarehouse.platform.server import FaultConfig, make_server

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def serve():
    servers = []

    def start(data, **kw):
        server = make_server(data, TOKEN, port=0, **kw)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _all(base, entity, **params):
    out, cursor = [], None
    while True:
        q = dict(params, limit=params.get("limit", 700))
        if cursor:
            q["cursor"] = cursor
        r = httpx.get(f"{base}/api/v1/records/{entity}", headers=AUTH, params=q)
        assert r.status_code == 200
        body = r.json()
        assert body["entity"] == entity
        out.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out, body["as_of"]


def test_health_and_auth(serve, dirty_dir):
    base = serve(dirty_dir)
    assert httpx.get(f"{base}/health").json()["status"] == "ok"
    assert httpx.get(f"{base}/api/v1/entities").status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert httpx.get(f"{base}/api/v1/records/deaths", headers=bad).status_code == 401
    r = httpx.get(f"{base}/api/v1/entities", headers=AUTH)
    counts = {e["name"]: e["count"] for e in r.json()["entities"]}
    assert counts["vaccinations"] == len(raw_lines(dirty_dir, "vaccinations"))
    assert httpx.get(f"{base}/api/v1/records/nope", headers=AUTH).status_code == 404
    assert (
        httpx.get(f"{base}/api/v1/records/deaths", headers=AUTH, params={"limit": "x"}).status_code
        == 400
    )


def test_paging_covers_every_record_once(serve, dirty_dir):
    base = serve(dirty_dir)
    for entity in ("vaccinations", "residents", "htn_followups"):
        data, as_of = _all(base, entity)
        lines = raw_lines(dirty_dir, entity)
        assert len(data) == len(lines)
        served = [
            json.dumps(x, ensure_ascii=False, separators=(",", ":")) if isinstance(x, dict) else x
            for x in data
        ]
        assert served == lines  # same order, each once; malformed rows arrive as strings
        assert as_of == "2026-11-22T23:59:59Z"
    r = httpx.get(f"{base}/api/v1/records/vaccinations", headers=AUTH, params={"limit": 99999})
    assert len(r.json()["data"]) == 5000


def test_updated_since_is_exclusive_increment(serve, dirty_dir):
    base = serve(dirty_dir)
    since = "2026-06-30T10:00:00Z"
    data, _ = _all(base, "htn_followups", updated_since=since)
    objs = [x for x in data if isinstance(x, dict)]
    assert objs and all(x["updated_at"] > since for x in objs)
    expected = [
        ln
        for ln in raw_lines(dirty_dir, "htn_followups")
        if ln[ln.find('"updated_at":"') + 14 :][:20] > since
    ]
    assert len(data) == len(expected)


def test_as_of_filter_and_restart_increment(serve, dirty_dir):
    early = serve(dirty_dir, as_of="2026-10-31")
    first, as_of = _all(early, "vaccinations")
    assert as_of == "2026-10-31T23:59:59Z"
    assert all(x["updated_at"] <= as_of for x in first if isinstance(x, dict))
    watermark = max(x["updated_at"] for x in first if isinstance(x, dict))
    late = serve(dirty_dir)  # "restarted" with the data's as-of
    more, _ = _all(late, "vaccinations", updated_since=watermark)
    assert more and all(x["updated_at"] > as_of for x in more if isinstance(x, dict))
    assert len(first) + len(more) == len(raw_lines(dirty_dir, "vaccinations"))


def test_rate_limit(serve, dirty_dir):
    base = serve(dirty_dir, rate_limit=1)
    statuses = [httpx.get(f"{base}/api/v1/entities", headers=AUTH) for _ in range(3)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1


def test_faults_at_rate_one(serve, dirty_dir):
    url = "/api/v1/records/deaths"
    base = serve(dirty_dir, faults=FaultConfig(rate_5xx=1.0))
    assert {httpx.get(base + url, headers=AUTH).status_code for _ in range(6)} <= {500, 503}
    base = serve(dirty_dir, faults=FaultConfig(rate_timeout=1.0, timeout_seconds=1.5))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(base + url, headers=AUTH, timeout=0.3)
    base = serve(dirty_dir, faults=FaultConfig(rate_truncate=1.0))
    r = httpx.get(base + url, headers=AUTH)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
