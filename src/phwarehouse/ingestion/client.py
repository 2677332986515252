"""HTTP client of the public health platform's change-feed API.

Pages are requested with `updated_since` and an opaque cursor; faults (429, 5xx, time-outs,
truncated bodies) are retried with exponential back-off on the same cursor, so a page is either
received whole or the extraction fails loudly after the last attempt.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

log = logging.getLogger(__name__)


class PlatformError(RuntimeError):
    """The platform kept failing after every retry, or refused the request."""


@dataclass
class Page:
    """One page of the change feed: its records and the next cursor. Each record is the bytes
    of its JSON value as received (validation.validate_received parses it), or the parsed
    value when the body was no plain page (see `split_page`); or what `prepare` made of
    them (`PlatformClient.pages`)."""

    records: list[Any]
    next_cursor: str | None
    as_of: str | None
    #: whether the body holds a backslash at all, which a `\\u` escape needs (most pages do
    #: not: a cheap check per page spares one per record)
    escapes: bool = True


class _PageShape(msgspec.Struct):
    """A change-feed page with its records left undecoded."""

    data: list[msgspec.Raw]
    next_cursor: str | None = None
    as_of: str | None = None


_PAGE_DECODER = msgspec.json.Decoder(_PageShape)


def split_page(body: bytes, check_utf8: bool = True) -> dict[str, Any]:
    """Split a page body into its records' bytes, without parsing the records.

    A body msgspec cannot take as a page (not an object, `data` no list, a NaN literal) is
    parsed whole by `json`, records included. ValueError: the body is no JSON (truncated) or
    a record is no UTF-8 (corrupted; surrogates encoded in it pass, as `json` lets them).
    `check_utf8=False` leaves the records' UTF-8 to the caller (`PlatformClient.pages` with
    a `prepare` that checks it, as `validation.validate_page` does)."""
    try:
        shape = _PAGE_DECODER.decode(body)
    except msgspec.MsgspecError:
        return json.loads(body)
    records = [bytes(raw) for raw in shape.data]
    if check_utf8:
        try:  # msgspec does not check the UTF-8 of what it leaves undecoded
            body.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:  # somewhere: a record not UTF-8 is a corrupted page
            for record in records:
                record.decode("utf-8", "surrogatepass")
    return {
        "data": records,
        "next_cursor": shape.next_cursor,
        "as_of": shape.as_of,
        "escapes": 92 in body,  # a backslash (an int needle: one memchr)
    }


@dataclass
class FetchStats:
    requests: int = 0
    retries: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def fault(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1


def _prepared(body: bytes, prepare: Callable[[list[Any], bool], list[Any]]) -> Any:
    """The page `split_page` finds in `body`, its records passed through `prepare`. A record
    that is no UTF-8 (UnicodeDecodeError) is a corrupted page, fetched again; any other
    ValueError or RecursionError of `prepare` is no fault of the page and is raised at once
    (as a RuntimeError, which `get_json` does not retry)."""
    page = split_page(body, check_utf8=False)
    if isinstance(page, dict) and isinstance(page.get("data"), list):
        try:
            page["data"] = prepare(page["data"], page.get("escapes", True))
        except UnicodeDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            raise RuntimeError(f"preparing a page failed: {exc!r}") from exc
    return page


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process: building one loads the CA bundle
    (20-40 ms, measured), which every client (one per entity load) would repeat."""
    return httpx.create_ssl_context()


@dataclass
class PlatformClient:
    base_url: str
    token: str
    page_size: int = 1000
    timeout: float = 30.0
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    stats: FetchStats = field(default_factory=FetchStats)
    _http: httpx.Client | None = None

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            timeout=self.timeout,
            verify=_tls_context(),
        )

    def close(self) -> None:
        if self._http:
            self._http.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sleep(self, attempt: int, retry_after: str | None = None) -> None:
        delay = min(self.backoff_cap, self.backoff_base * 2**attempt) * (0.5 + random.random() / 2)
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = max(delay, float(retry_after))
        time.sleep(delay)

    def get_json(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        parse: Callable[[bytes], Any] = json.loads,
    ) -> Any:
        """GET with retries on 429, 5xx, transport errors, time-outs and bodies that `parse`
        rejects (ValueError, RecursionError)."""
        assert self._http is not None
        last_error = ""
        for attempt in range(self.max_attempts):
            self.stats.requests += 1
            if attempt:
                self.stats.retries += 1
            try:
                resp = self._http.get(path, params=params)
            except httpx.TimeoutException as exc:
                self.stats.fault("timeout")
                last_error = f"timeout: {exc}"
                self._sleep(attempt)
                continue
            except httpx.TransportError as exc:
                self.stats.fault("transport")
                last_error = f"transport error: {exc}"
                self._sleep(attempt)
                continue
            if resp.status_code == 429:
                self.stats.fault("429")
                last_error = "429 rate limited"
                self._sleep(attempt, resp.headers.get("Retry-After"))
                continue
            if resp.status_code >= 500:
                self.stats.fault(str(resp.status_code))
                last_error = f"{resp.status_code} {resp.text[:200]}"
                self._sleep(attempt)
                continue
            if resp.status_code in (401, 403):
                raise PlatformError(f"platform refused the token ({resp.status_code}) for {path}")
            if resp.status_code >= 400:
                raise PlatformError(f"{resp.status_code} for {path}: {resp.text[:300]}")
            try:
                return parse(resp.content)
            except (ValueError, RecursionError):
                self.stats.fault("truncated")
                last_error = f"unparseable body ({len(resp.content)} bytes)"
                self._sleep(attempt)
                continue
        raise PlatformError(f"{path} failed after {self.max_attempts} attempts: {last_error}")

    def entities(self) -> list[str]:
        body = self.get_json("/api/v1/entities")
        items = body.get("entities", body) if isinstance(body, dict) else body
        return [e["name"] if isinstance(e, dict) else str(e) for e in items]

    def pages(
        self,
        entity: str,
        updated_since: str | None,
        prepare: Callable[[list[Any], bool], list[Any]] | None = None,
    ) -> Iterator[Page]:
        """Yield the change feed of `entity` after `updated_since`, page by page. `prepare`
        turns a page's records (and its `escapes`) into the page's records, within the
        retries: it is given the records' UTF-8 to check (split_page's `check_utf8`), and a
        UnicodeDecodeError it raises is a corrupted page, fetched again (see `_prepared`)."""
        parse = split_page if prepare is None else functools.partial(_prepared, prepare=prepare)
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": self.page_size}
            if updated_since:
                params["updated_since"] = updated_since
            if cursor:
                params["cursor"] = cursor
            body = self.get_json(f"/api/v1/records/{entity}", params, parse)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise PlatformError(f"unexpected page shape for {entity}: {str(body)[:200]}")
            page = Page(
                body["data"], body.get("next_cursor"), body.get("as_of"), body.get("escapes", True)
            )
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor
