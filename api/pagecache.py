"""Serialized pages of the hottest explorer route, answered from the event loop.

A ``/v1/gpus`` page depends on three things: its query, the indexer's snapshot (indexed block
and latest liveness epoch) and, through ``verified`` and the totals, the clock. The cache keys a
page by the first two and bounds the third with a maximum age.

Every read of the database is single-flight: however many requests arrive while the snapshot
is being re-read or a page computed, one worker thread does the work and the others await its
result. Without that, each request that found the snapshot stale hopped to its own worker
thread; with 16 concurrent clients that was 16 threads (and the event loop) fighting over the
GIL at once, which stalled every connection for 100-250 ms about once a second, long enough to
own the 99th percentile. And however many different pages are asked at once, at most
``threads`` (2) are computed at a time, the others waiting in the event loop: a page's work is
mostly Python holding the GIL, so more threads only make every page slower; the waiting ones
are served in their order of arrival.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from typing import Any

import anyio
import anyio.to_thread

from api.inventory.lru import LruCache
from api.inventory.snapshot import Snapshot

__all__ = ["PageCache", "Snapshot"]


class PageCache:
    """Pages keyed by (query, snapshot), at most ``max_age`` seconds old when served fresh.

    A page older than ``max_age`` is still served, for at most ``stale_for`` seconds more, while
    one background refresh recomputes it (stale-while-revalidate), so no client of a busy page
    waits for a recomputation the clock asked for; a page nobody asked for in that time is
    recomputed while its next client waits. The
    snapshot is re-read at most every ``snapshot_ttl`` seconds: an indexer commit shows in pages
    at most that much later, and each page still says the block it is true at.

    Ages are read from ``clock`` (seconds, monotonic), so a test can move time instead of
    sleeping through it.
    """

    def __init__(
        self,
        read_snapshot: Callable[[], Snapshot],
        *,
        snapshot_ttl: float = 0.1,
        max_age: float = 1.0,
        stale_for: float = 5.0,
        size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        threads: int = 2,
    ) -> None:
        self._read_snapshot = read_snapshot
        self._clock = clock
        self.snapshot_ttl = snapshot_ttl
        self.max_age = max_age
        self.stale_for = stale_for
        self._pages = LruCache(size=size)
        self._snapshot: Snapshot | None = None
        self._snapshot_at = 0.0
        self._inflight: dict[Hashable, asyncio.Task[Any]] = {}
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None

    async def snapshot(self) -> Snapshot:
        """The indexer's snapshot, re-read (by one thread for all callers) when stale."""
        if self._snapshot is not None and self._clock() - self._snapshot_at < self.snapshot_ttl:
            return self._snapshot

        def read() -> Snapshot:
            known = self._read_snapshot()
            self._snapshot, self._snapshot_at = known, self._clock()
            return known

        result: Snapshot = await self._once(("snapshot",), read)
        return result

    async def page(self, key: Hashable, compute: Callable[[Snapshot], bytes]) -> bytes:
        """The serialized page for ``key``; ``compute(snapshot)`` runs in a worker thread."""
        known = await self.snapshot()
        cache_key = (key, known)
        entry: tuple[float, bytes] | None = self._pages.get(cache_key)
        if entry is not None:
            made, body = entry
            age = self._clock() - made
            if age <= self.max_age:
                return body
            if age <= self.max_age + self.stale_for:
                self._refresh(cache_key, known, compute)
                return body
        result: bytes = await self._once(
            cache_key, lambda: self._compute(cache_key, known, compute)
        )
        return result

    def _compute(
        self, cache_key: Hashable, known: Snapshot, compute: Callable[[Snapshot], bytes]
    ) -> bytes:
        body = compute(known)
        self._pages.put(cache_key, (self._clock(), body))
        return body

    def _refresh(
        self, cache_key: Hashable, known: Snapshot, compute: Callable[[Snapshot], bytes]
    ) -> None:
        if cache_key not in self._inflight:
            self._start(cache_key, lambda: self._compute(cache_key, known, compute))

    def _start(self, key: Hashable, work: Callable[[], Any]) -> asyncio.Task[Any]:
        if self._limiter is None:  # made in the event loop that uses it
            self._limiter = anyio.CapacityLimiter(self.threads)
        task = asyncio.get_running_loop().create_task(
            anyio.to_thread.run_sync(work, limiter=self._limiter)
        )
        self._inflight[key] = task

        def finished(done: asyncio.Task[Any]) -> None:
            if self._inflight.get(key) is done:
                del self._inflight[key]
            if not done.cancelled():
                done.exception()  # a failed background refresh keeps the old page; next one tries

        task.add_done_callback(finished)
        return task

    async def idle(self) -> None:
        """Returns once no read is in flight, background refreshes included (their failures
        stay theirs: a failed refresh keeps the old page)."""
        while self._inflight:
            await asyncio.wait(set(self._inflight.values()))

    async def _once(self, key: Hashable, work: Callable[[], Any]) -> Any:
        """Runs ``work`` in a worker thread unless the same key is already running; every
        caller awaits the one result (or exception). The work is not any request's task, so
        a client that disconnects does not cancel it for the others."""
        task = self._inflight.get(key) or self._start(key, work)
        return await asyncio.shield(task)
