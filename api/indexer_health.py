"""The indexer's health as the API sees it: read from the inventory database at most once a
``ttl`` (by one worker thread for all callers), and the one check every inventory read makes.

The indexer records its progress and its halts in the database it writes
(:func:`indexer.health.read_health`). While it is halted on a reorg deeper than its finality
window, rows of the replaced blocks may still be in the inventory, and no later step will
remove them: every inventory read answers ``503 indexer_halted`` (with the cause and the fix)
rather than serve them. The check costs a clock read and an attribute lookup per request; the
database is read at most once a ``ttl`` whatever the request rate.

Other halts (the node on another chain, a contract without code) leave the inventory true of
the chain it was indexed from, up to its ``as_of_block``: they make ``/v1/health`` say
``halted``, but reads still answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

import anyio.to_thread
from sqlalchemy import Engine

from api.errors import IndexerHaltedError
from indexer.health import DEFAULT_FIX, FIXES, IndexerHealth, read_health

log = logging.getLogger("depin.api")

#: halts after which the inventory may hold rows the chain no longer has
UNSERVABLE_HALTS: Final = frozenset({"deep_reorg"})
#: seconds without a working indexer step before the API calls the indexer degraded
STALLED_AFTER: Final = 300.0
#: what ``Retry-After`` says while the indexer is halted (a rebuild takes a while)
RETRY_AFTER_S: Final = 30


class IndexerWatch:
    """The indexer's health, re-read from ``engine`` when older than ``ttl`` seconds.

    A read that fails (the database does not answer) keeps the last health known: the routes
    meet the database's own error when they query it.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ttl: float = 1.0,
        stalled_after: float = STALLED_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self.stalled_after = stalled_after
        self._clock = clock
        self._health: IndexerHealth | None = None
        self._read_at = float("-inf")
        self._inflight: asyncio.Task[IndexerHealth | None] | None = None

    def read(self) -> IndexerHealth | None:
        """Reads the health now (blocking), and remembers it."""
        health: IndexerHealth | None
        try:
            health = read_health(self.engine, stalled_after=self.stalled_after)
        except Exception as exc:
            log.warning("the indexer's health cannot be read: %s", exc)
            health = self._health
        self._health, self._read_at = health, self._clock()
        return health

    async def health(self) -> IndexerHealth | None:
        """The health at most ``ttl`` seconds old; one thread re-reads it for all callers."""
        if self._clock() - self._read_at < self.ttl:
            return self._health
        task = self._inflight
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(anyio.to_thread.run_sync(self.read))
            self._inflight = task
        return await asyncio.shield(task)

    async def check(self) -> None:
        """Refuses with :class:`IndexerHaltedError` while the inventory may hold orphaned rows."""
        health = await self.health()
        if health is not None and health.halt is not None:
            refuse(health)


def refuse(health: IndexerHealth) -> None:
    """Raises :class:`IndexerHaltedError` when ``health`` is a halt the inventory cannot be
    served through."""
    halt = health.halt
    if halt is None or halt.reason not in UNSERVABLE_HALTS:
        return
    fix = FIXES.get(halt.reason, DEFAULT_FIX)
    message = halt.detail.get("message") or halt.reason
    raise IndexerHaltedError(
        f"the indexer halted ({halt.reason}): {message}; the inventory may hold rows of blocks "
        f"the chain replaced, so it is not served until the operator acts: {fix}",
        reason=halt.reason,
        fix=fix,
        retry_after=RETRY_AFTER_S,
    )
