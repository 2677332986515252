"""read_ahead and collector_paused (phwarehouse.ingestion.overlap): the load's chunks come in
order, one produced ahead, a producer's error after what it produced, and a load that stops
early stops its producer and closes the feed."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from contextlib import closing

import pytest

from phwarehouse.ingestion.overlap import collect_young, collector_paused, read_ahead


def test_items_come_in_order_produced_one_ahead() -> None:
    produced: list[int] = []
    ready = threading.Condition()

    def source():
        for i in range(5):
            with ready:
                produced.append(i)
                ready.notify_all()
            yield i

    seen = []
    for item in read_ahead(source()):
        ahead = min(item + 2, 5)  # the next item (queued) and the one after it, produced
        with ready:
            assert ready.wait_for(lambda n=ahead: len(produced) >= n, timeout=2)
            assert len(produced) <= item + 3  # never further: the queue holds one item
        seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_an_error_of_the_producer_comes_after_what_it_produced() -> None:
    def source():
        yield "a"
        yield "b"
        raise ValueError("page failed")

    seen = []
    with pytest.raises(ValueError, match="page failed"):
        for item in read_ahead(source()):
            seen.append(item)
    assert seen == ["a", "b"]


def test_stopping_early_stops_the_producer_and_closes_the_source() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def source():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    with closing(read_ahead(source())) as items:
        assert next(items) == 0
    assert closed.wait(5)  # the producer closed the feed it was reading
    assert len(produced) <= 3  # and read no further than one item ahead of the queue
    assert not any(t.name == "read-ahead" for t in threading.enumerate())


def test_the_collector_is_paused_within_and_restored_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # as it was
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_closing_waits_only_so_long_for_a_producer_still_making_an_item() -> None:
    release = threading.Event()

    def source():
        yield 1
        release.wait(30)  # a page fetched slowly, retries and all
        yield 2

    items = read_ahead(source(), join_seconds=0.2)
    assert next(items) == 1
    started = time.monotonic()
    items.close()  # a load failing meanwhile: its error is not held up by the fetch
    assert time.monotonic() - started < 5
    release.set()


def test_young_cyclic_garbage_is_collected_while_the_collector_is_paused() -> None:
    class Page:
        body = b"x" * 1_000_000

    with collector_paused():
        page = Page()
        page.itself = page  # a cycle, as an httpx response and its stream make
        alive = weakref.ref(page)
        del page
        assert alive() is not None  # reference counting cannot free it, nor the paused collector
        collect_young()
        assert alive() is None
