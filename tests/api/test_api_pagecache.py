"""The /v1/gpus page cache: one database read however many requests wait for it, stale pages
served while one refresh runs, failures neither cached nor lost.

Ages are read from a :class:`FakeClock` the tests move, never from sleeping past a TTL.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from clock_helpers import FakeClock

from api.pagecache import PageCache, Snapshot


class Source:
    """A snapshot and a page computation that count their calls and can be held."""

    def __init__(self) -> None:
        self.known: Snapshot = Snapshot(10, 1, 5)
        self.snapshot_reads = 0
        self.computes = 0
        self.gate = threading.Event()
        self.gate.set()
        self.fail: Exception | None = None

    def read_snapshot(self) -> Snapshot:
        self.snapshot_reads += 1
        return self.known

    def compute(self, known: Snapshot) -> bytes:
        self.gate.wait(5)
        self.computes += 1
        if self.fail is not None:
            raise self.fail
        return f"block {known[0]} #{self.computes}".encode()


def run(coro: Any) -> Any:
    """Runs ``coro`` on a new event loop in its own thread (a browser suite's Playwright keeps
    a loop running on the main thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_concurrent_misses_share_one_snapshot_read_and_one_computation() -> None:
    source = Source()
    clock = FakeClock(1000.0)
    cache = PageCache(source.read_snapshot, clock=clock)
    source.gate.clear()

    async def main() -> list[bytes]:
        waiting = [asyncio.create_task(cache.page("q", source.compute)) for _ in range(32)]
        await asyncio.sleep(0.05)
        source.gate.set()
        return await asyncio.gather(*waiting)

    bodies = run(main())
    assert bodies == [b"block 10 #1"] * 32
    assert source.computes == 1
    assert source.snapshot_reads == 1


def test_a_new_snapshot_is_seen_after_the_ttl_and_gives_a_new_page() -> None:
    source = Source()
    clock = FakeClock(1000.0)
    cache = PageCache(source.read_snapshot, clock=clock, snapshot_ttl=0.05)

    async def main() -> tuple[bytes, bytes, bytes]:
        first = await cache.page("q", source.compute)
        source.known = Snapshot(11, 1, 6)
        within_ttl = await cache.page("q", source.compute)
        clock.advance(0.06)
        after_ttl = await cache.page("q", source.compute)
        return first, within_ttl, after_ttl

    first, within_ttl, after_ttl = run(main())
    assert first == within_ttl == b"block 10 #1"
    assert after_ttl == b"block 11 #2"
    assert source.snapshot_reads == 2


def test_an_old_page_is_served_while_one_background_refresh_replaces_it() -> None:
    source = Source()
    clock = FakeClock(1000.0)
    cache = PageCache(source.read_snapshot, clock=clock, snapshot_ttl=60, max_age=0.05)

    async def main() -> tuple[bytes, list[bytes], bytes]:
        first = await cache.page("q", source.compute)
        clock.advance(0.06)
        source.gate.clear()  # hold the refresh: the stale page must still answer at once
        stale = await asyncio.gather(*(cache.page("q", source.compute) for _ in range(10)))
        assert source.computes == 1  # answered while the refresh is still held
        source.gate.set()
        await cache.idle()
        return first, stale, await cache.page("q", source.compute)

    first, stale, refreshed = run(main())
    assert stale == [first] * 10
    assert refreshed == b"block 10 #2"
    assert source.computes == 2  # ten stale hits started one refresh


def test_a_failed_computation_reaches_every_waiter_and_is_not_cached() -> None:
    source = Source()
    clock = FakeClock(1000.0)
    cache = PageCache(source.read_snapshot, clock=clock)
    source.fail = ValueError("the cursor is not one this API issued")
    source.gate.clear()

    async def main() -> list[Any]:
        waiting = [asyncio.create_task(cache.page("q", source.compute)) for _ in range(5)]
        await asyncio.sleep(0.05)
        source.gate.set()
        return await asyncio.gather(*waiting, return_exceptions=True)

    outcomes = run(main())
    assert all(isinstance(o, ValueError) and "cursor" in str(o) for o in outcomes)
    assert source.computes == 1
    source.fail = None
    assert run(cache.page("q", source.compute)) == b"block 10 #2"


def test_a_failed_background_refresh_keeps_the_old_page_and_leaves_no_stray_error() -> None:
    source = Source()
    clock = FakeClock(1000.0)
    cache = PageCache(source.read_snapshot, clock=clock, snapshot_ttl=60, max_age=0.01)
    unhandled: list[dict[str, Any]] = []

    async def main() -> list[bytes]:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: unhandled.append(ctx))
        bodies = [await cache.page("q", source.compute)]
        source.fail = RuntimeError("database went away")
        for _ in range(3):
            clock.advance(0.02)
            bodies.append(await cache.page("q", source.compute))
            await cache.idle()
        return bodies

    bodies = run(main())
    assert bodies == [b"block 10 #1"] * 4
    assert source.computes >= 2  # the refreshes ran and failed
    assert unhandled == []


def test_a_waiter_that_goes_away_does_not_cancel_the_work_for_the_others() -> None:
    source = Source()
    clock = FakeClock(1000.0)
    cache = PageCache(source.read_snapshot, clock=clock)
    source.gate.clear()

    async def main() -> bytes:
        first = asyncio.create_task(cache.page("q", source.compute))
        await asyncio.sleep(0.02)
        second = asyncio.create_task(cache.page("q", source.compute))
        await asyncio.sleep(0.02)
        first.cancel()  # the client that started the read disconnects
        with pytest.raises(asyncio.CancelledError):
            await first
        source.gate.set()
        return await second

    assert run(main()) == b"block 10 #1"
    assert source.computes == 1


def test_a_page_past_its_stale_window_is_recomputed_before_it_is_served() -> None:
    source = Source()
    clock = FakeClock(1000.0)
    cache = PageCache(
        source.read_snapshot, clock=clock, snapshot_ttl=60, max_age=0.01, stale_for=0.02
    )

    async def main() -> tuple[bytes, bytes]:
        first = await cache.page("q", source.compute)
        clock.advance(0.05)  # older than max_age + stale_for: nobody asked meanwhile
        return first, await cache.page("q", source.compute)

    first, later = run(main())
    assert (first, later) == (b"block 10 #1", b"block 10 #2")
