"""Login throttling for Airflow's token endpoints (ASGI middleware).

FAB's flask-limiter guards the login form, but the FastAPI token endpoints (`POST /auth/token`,
`/auth/token/cli`) are not behind it, so a password could be guessed there at full speed. This
middleware counts failed logins (401/403) per client address in a fixed window and answers 429
with Retry-After, to right and wrong passwords alike, until the window ends. The rate is FAB's
(`[fab] auth_rate_limit`, e.g. "5 per 40 second"), so one setting governs both doors.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_PATHS = ("/auth/token", "/auth/token/cli")
FAILED = (401, 403)


class LoginThrottle:
    """Refuse token requests from an address that failed `rate` times in the window."""

    def __init__(self, app: ASGIApp, rate: str = "5 per 40 second") -> None:
        self.app = app
        self.limit = parse(rate)
        self.limiter = FixedWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._is_login(scope):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if not self.limiter.test(self.limit, client):
            await self._too_many(send, client)
            return
        status: dict[str, int] = {}

        async def send_and_see(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, send_and_see)
        if status.get("code") in FAILED:
            self.limiter.hit(self.limit, client)

    @staticmethod
    def _is_login(scope: Scope) -> bool:
        if scope.get("type") != "http" or scope.get("method") != "POST":
            return False
        path = str(scope.get("path", "")).rstrip("/")
        return path.endswith(TOKEN_PATHS)

    async def _too_many(self, send: Send, client: str) -> None:
        reset = self.limiter.get_window_stats(self.limit, client).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        body = json.dumps(
            {"detail": f"Too many failed logins from this address; retry in {retry_after} s"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
