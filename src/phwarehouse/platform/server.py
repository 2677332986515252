"""HTTP API serving the change feed like the provincial platform.

``GET /health`` (no auth); ``GET /api/v1/entities``; ``GET /api/v1/records/<entity>`` with
``updated_since`` (exclusive), ``cursor`` (opaque) and ``limit`` (default 1000, max 5000).
Bearer-token auth, optional rate limit (429 + Retry-After) and injected faults (5xx, slow
responses, truncated bodies) at configurable rates, deterministic given the fault seed.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import random
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from phwarehouse.contract import ENTITIES
from phwarehouse.platform.dates import DAY_SECONDS, day_of, fmt_timestamp, parse_timestamp
from phwarehouse.platform.feed import FeedStore, as_json_item

DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class FaultConfig:
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    rate_truncate: float = 0.0
    timeout_seconds: float = 30.0  # how long a "slow" response stalls
    seed: int = 0


class TokenBucket:
    def __init__(self, per_second: float) -> None:
        self.rate = per_second
        self.tokens = per_second
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0 if allowed, else seconds until a token is available."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


def cutoff_of(as_of: str) -> int:
    """Last visible second for an as-of date (end of day UTC) or an explicit timestamp."""
    if len(as_of.strip()) == 10:
        return (day_of(as_of) + 1) * DAY_SECONDS - 1
    return parse_timestamp(as_of)


def encode_cursor(entity: str, position: int) -> str:
    raw = json.dumps({"e": entity, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(entity: str, cursor: str) -> int:
    pad = "=" * (-len(cursor) % 4)
    data = json.loads(base64.urlsafe_b64decode(cursor + pad))
    if data.get("e") != entity or not isinstance(data.get("p"), int) or data["p"] < 0:
        raise ValueError("cursor does not belong to this entity")
    return data["p"]


class PlatformServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        store: FeedStore,
        token: str,
        as_of: str,
        faults: FaultConfig,
        rate_limit: float | None,
        verbose: bool = False,
    ) -> None:
        super().__init__(address, PlatformHandler)
        self.store = store
        self.token = token
        self.as_of = as_of
        self.cutoff = cutoff_of(as_of)
        self.faults = faults
        self.fault_rng = random.Random(faults.seed)
        self.fault_lock = threading.Lock()
        self.bucket = TokenBucket(rate_limit) if rate_limit else None
        self.verbose = verbose

    def draw_fault(self) -> str | None:
        f = self.faults
        if not (f.rate_5xx or f.rate_timeout or f.rate_truncate):
            return None
        with self.fault_lock:
            u, v = self.fault_rng.random(), self.fault_rng.random()
        if u < f.rate_5xx:
            return "500" if v < 0.5 else "503"
        if u < f.rate_5xx + f.rate_timeout:
            return "timeout"
        if u < f.rate_5xx + f.rate_timeout + f.rate_truncate:
            return "truncate"
        return None


class PlatformHandler(BaseHTTPRequestHandler):
    server: PlatformServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # ------------------------------------------------------------------ helpers
    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        truncate: bool = False,
    ) -> None:
        if truncate:
            body = body[: max(1, len(body) // 2)]
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict, **kw) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), **kw)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(
            status, {"error": HTTPStatus(status).phrase, "message": message}, headers=headers
        )

    # ------------------------------------------------------------------ routing
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        if path == "/health":
            self._json(200, {"status": "ok", "as_of": fmt_timestamp(self.server.cutoff)})
            return
        if not path.startswith(API_PREFIX):
            self._error(404, "not found")
            return
        auth = self.headers.get("Authorization", "")
        if not hmac.compare_digest(auth.encode(), f"Bearer {self.server.token}".encode()):
            self._error(
                401,
                "missing or invalid bearer token",
                {"WWW-Authenticate": 'Bearer realm="platform"'},
            )
            return
        if self.server.bucket:
            wait = self.server.bucket.take()
            if wait:
                self._error(
                    429, "rate limit exceeded", {"Retry-After": str(max(1, math.ceil(wait)))}
                )
                return
        fault = self.server.draw_fault()
        if fault in ("500", "503"):
            self._error(int(fault), "injected server fault")
            return
        if fault == "timeout":
            time.sleep(self.server.faults.timeout_seconds)
        truncate = fault == "truncate"
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path == f"{API_PREFIX}/entities":
            self._entities(truncate)
        elif path.startswith(f"{API_PREFIX}/records/"):
            self._records(path.rsplit("/", 1)[1], query, truncate)
        else:
            self._error(404, "not found")

    def _entities(self, truncate: bool) -> None:
        store, cutoff = self.server.store, self.server.cutoff
        items = []
        for name, feed in store.feeds.items():
            spec = ENTITIES.get(name)
            items.append(
                {
                    "name": name,
                    "zh": spec.zh if spec else None,
                    "count": feed.position_after(cutoff),
                }
            )
        self._json(200, {"entities": items, "as_of": fmt_timestamp(cutoff)}, truncate=truncate)

    def _records(self, entity: str, query: dict[str, str], truncate: bool) -> None:
        feed = self.server.store.feeds.get(entity)
        if feed is None:
            self._error(404, f"unknown entity {entity!r}")
            return
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
            if limit < 1:
                raise ValueError("limit must be >= 1")
            limit = min(limit, MAX_LIMIT)
            if query.get("cursor"):
                start = decode_cursor(entity, query["cursor"])
            elif query.get("updated_since"):
                start = feed.position_after(parse_timestamp(query["updated_since"]))
            else:
                start = 0
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            self._error(400, f"bad request: {exc}")
            return
        end_all = feed.position_after(self.server.cutoff)
        stop = min(start + limit, end_all)
        lines = feed.read_lines(start, stop) if start < end_all else []
        next_cursor = encode_cursor(entity, stop) if stop < end_all else None
        body = b"".join(
            [
                b'{"entity":',
                json.dumps(entity).encode(),
                b',"data":[',
                b",".join(as_json_item(x) for x in lines),
                b'],"next_cursor":',
                json.dumps(next_cursor).encode(),
                b',"as_of":',
                json.dumps(fmt_timestamp(self.server.cutoff)).encode(),
                b"}",
            ]
        )
        self._send(200, body, truncate=truncate)


def make_server(
    data_dir: Path | str,
    token: str,
    port: int = 8765,
    host: str = "127.0.0.1",
    as_of: str | None = None,
    faults: FaultConfig | None = None,
    rate_limit: float | None = None,
    verbose: bool = False,
) -> PlatformServer:
    """Build (not start) a server; ``port=0`` picks a free port (see ``server_address``)."""
    data_dir = Path(data_dir)
    if as_of is None:
        manifest = data_dir / "manifest.json"
        as_of = (
            json.loads(manifest.read_text(encoding="utf-8"))["as_of"]
            if manifest.exists()
            else "9999-12-31"
        )
    return PlatformServer(
        (host, port),
        FeedStore(data_dir),
        token,
        as_of,
        faults or FaultConfig(),
        rate_limit,
        verbose,
    )
