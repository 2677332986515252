"""Keeping the loader and PostgreSQL busy at once, and Python's collector out of the way.

A load alternates two kinds of work: fetching and validating a chunk of the feed (the loader's
Python, the platform) and COPYing it (PostgreSQL, while the loader mostly waits on the socket).
`read_ahead` runs the first one chunk ahead in a thread, so that the next chunk is fetched and
validated while PostgreSQL stores this one. `collector_paused` pauses Python's automatic
cyclic garbage collection for a load: a chunk holds tens of thousands of live records, which
every collection of the older generations walks again (with the first load's index of every
version stored), and a record forms no reference cycle (reference counting frees it). Other
objects do (an httpx response and its page's body), so a load calls `collect_young` once per
chunk: a collection of the objects made since the last one, never of the long-lived ones.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

#: how long a producer blocked on a full queue waits before looking whether it was stopped
_POLL_SECONDS = 0.1
#: how long closing waits for a producer still making an item (a page it fetches, retries
#: included, can take minutes): then the daemon thread is left to end on its own
JOIN_SECONDS = 5.0


def read_ahead(
    items: Iterator[T], depth: int = 1, join_seconds: float = JOIN_SECONDS
) -> Iterator[T]:
    """Yield `items` in order, produced up to `depth` ahead by a thread. An exception the
    producer raises is raised here, after the items produced before it. Closing this iterator
    (or leaving a `with closing(...)` block) stops the producer, which closes `items` once the
    item it is making is done (the producer alone runs `items`); closing waits for that at
    most `join_seconds`, so that a failing load does not wait for a slow fetch."""
    handoff: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stopped.is_set():
            try:
                handoff.put(entry, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((False, item)):
                    return
            put((True, None))
        except BaseException as exc:  # handed over: the consumer raises it
            put((True, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name="read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            done, value = handoff.get()
            if done:
                if value is not None:
                    raise value  # type: ignore[misc]  # a BaseException, from produce()
                return
            yield value  # type: ignore[misc]  # an item of `items`
    finally:
        stopped.set()
        producer.join(join_seconds)


def collect_young() -> None:
    """Collect the cyclic garbage among the objects made since the last collection (the two
    young generations: the long-lived objects are not walked)."""
    gc.collect(1)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's automatic cyclic garbage collection within the block (as it was after);
    the block calls `collect_young` at its own pace."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
