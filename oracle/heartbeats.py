"""The oracle's heartbeats: every verified signed heartbeat, durable before it is acknowledged,
and each recent epoch's merged view of them.

Durability is by group commit: a route hands its heartbeat to the one writer thread and awaits
a future; the writer commits everything pending in one SQLite transaction, then resolves the
futures of that batch (one hop back to each event loop per batch, not per heartbeat). A
heartbeat that was answered 2xx is in the file, so a ``kill -9`` loses none; on start the views
are rebuilt from the file.

The view of an epoch keeps, per GPU index, which status values its heartbeats said
(:data:`SAID_AVAILABLE` ...) and one heartbeat for each value: online is "any heartbeat",
available and healthy are "every heartbeat held says so", and the heartbeats kept are those that
justify each bit (the evidence a peer asks for).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from depin.attestation import GpuStatus, Liveness
from depin.bitmaps import set_bit, to_bitmap
from depin.sqlite import LocalDb
from depin.wire import HeartbeatRequest

log = logging.getLogger("depin.oracle")

KEEP_EPOCHS = 10
"""Epochs older than the newest one seen minus this are dropped, in memory and in the file."""

SAID_AVAILABLE = 1
SAID_BUSY = 2
SAID_HEALTHY = 4
SAID_UNHEALTHY = 8
_SAID = (SAID_AVAILABLE, SAID_BUSY, SAID_HEALTHY, SAID_UNHEALTHY)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS heartbeat_book (
    epoch INTEGER NOT NULL, digest BLOB NOT NULL, body TEXT NOT NULL, entries TEXT NOT NULL,
    PRIMARY KEY (epoch, digest));
"""


def said(status: int) -> int:
    """The :data:`SAID_AVAILABLE` ... bits of one GPU's status byte."""
    return (SAID_AVAILABLE if status & GpuStatus.AVAILABLE else SAID_BUSY) | (
        SAID_HEALTHY if status & GpuStatus.HEALTHY else SAID_UNHEALTHY
    )


@dataclass(frozen=True)
class Accepted:
    """A verified heartbeat: its EIP-712 digest and the ``(GPU index, status)`` of each GPU key
    that passed (keys that failed are left out)."""

    request: HeartbeatRequest
    digest: bytes
    entries: tuple[tuple[int, int], ...]


@dataclass
class EpochView:
    """One epoch's heartbeats, merged.

    Besides the bits said of each GPU, a bit array per said bit (GPU index i at bit i) is kept
    as heartbeats arrive, so that the epoch's bitmaps, and the comparisons and checks at its
    close, are a few big-integer operations, not a loop over every GPU (see
    :meth:`bits`)."""

    said: dict[int, int] = field(default_factory=dict)
    refs: dict[int, dict[int, bytes]] = field(default_factory=dict)
    """GPU index -> said bit -> digest of one heartbeat that said it."""
    arrays: tuple[bytearray, ...] = field(default_factory=lambda: tuple(bytearray() for _ in _SAID))
    """Per said bit (in the order of ``_SAID``), the GPU indexes it was said of."""

    def add(self, digest: bytes, entries: Iterable[tuple[int, int]]) -> None:
        for index, status in entries:
            bits = said(status)
            known = self.said.get(index, 0)
            new = bits & ~known
            if new:
                self.said[index] = known | bits
                refs = self.refs.setdefault(index, {})
                for bit, array in zip(_SAID, self.arrays, strict=True):
                    if new & bit:
                        refs[bit] = digest
                        set_bit(array, index)

    def status(self, index: int) -> GpuStatus:
        bits = self.said[index]
        available = bits & SAID_AVAILABLE and not bits & SAID_BUSY
        healthy = bits & SAID_HEALTHY and not bits & SAID_UNHEALTHY
        return (GpuStatus.AVAILABLE if available else GpuStatus.NONE) | (
            GpuStatus.HEALTHY if healthy else GpuStatus.NONE
        )

    def statuses(self) -> dict[int, GpuStatus]:
        return {i: self.status(i) for i in self.said}

    def bits(self) -> tuple[int, int, int, int]:
        """The GPU indexes said available, busy, healthy and unhealthy, as integers."""
        available, busy, healthy, unhealthy = (int.from_bytes(a, "little") for a in self.arrays)
        return available, busy, healthy, unhealthy

    def liveness(self) -> Liveness:
        available, busy, healthy, unhealthy = self.bits()
        return Liveness(
            to_bitmap(available | busy),
            to_bitmap(available & ~busy),
            to_bitmap(healthy & ~unhealthy),
        )

    def justifies(self, index: int, status: int) -> bool:
        """Whether heartbeats held say GPU ``index`` is online with each bit of ``status``."""
        need = said(status)
        return self.said.get(index, 0) & need == need

    def justifying(self, index: int, status: int) -> set[bytes]:
        """The digests of the heartbeats that say GPU ``index`` has each bit of ``status``."""
        refs = self.refs.get(index, {})
        return {refs[b] for b in _SAID if b & said(status) and b in refs}

    def copy(self) -> EpochView:
        """A snapshot: what is said later is not in it. The digests behind each GPU are shared
        (a GPU's digest for a bit, once set, never changes; a bit said later may show there,
        and is never asked for, since the snapshot's bits do not have it)."""
        return EpochView(dict(self.said), dict(self.refs), tuple(bytearray(a) for a in self.arrays))


@dataclass
class _Pending:
    accepted: list[Accepted]
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | Future[None] | None = None


class HeartbeatBook:
    """Verified heartbeats by epoch, committed in groups by one writer thread."""

    def __init__(self, path: Path, *, keep_epochs: int = KEEP_EPOCHS) -> None:
        self.db = LocalDb(path, _SCHEMA)
        self.keep_epochs = keep_epochs
        self._views: dict[int, EpochView] = {}
        self._committed: set[bytes] = set()
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._pending: list[_Pending] = []
        self._closed = False
        self.batches = 0
        self.newest = -1
        self._load()
        self._writer = threading.Thread(target=self._run, name="heartbeat-writer", daemon=True)
        self._writer.start()

    def _load(self) -> None:
        for epoch, digest, entries in self.db.query(
            "SELECT epoch, digest, entries FROM heartbeat_book ORDER BY rowid"
        ):
            self._apply(int(epoch), bytes(digest), [tuple(e) for e in json.loads(entries)])

    def _apply(self, epoch: int, digest: bytes, entries: Iterable[tuple[int, int]]) -> None:
        view = self._views.get(epoch)
        if view is None:
            view = self._views[epoch] = EpochView()
        view.add(digest, entries)
        self._committed.add(digest)
        self.newest = max(self.newest, epoch)

    # ------------------------------------------------------------------ writing

    async def add(self, accepted: Accepted) -> None:
        """Returns once ``accepted`` is committed to the file."""
        if accepted.digest in self._committed:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            self._pending.append(_Pending([accepted], loop, future))
            self._cond.notify()
        await future

    def add_all(self, accepted: list[Accepted], timeout: float = 30.0) -> None:
        """Blocks until every heartbeat of ``accepted`` is committed (for threads)."""
        fresh = [a for a in accepted if a.digest not in self._committed]
        if not fresh:
            return
        future: Future[None] = Future()
        with self._cond:
            self._pending.append(_Pending(fresh, None, future))
            self._cond.notify()
        future.result(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closed:
                    return
            error: BaseException | None = None
            try:
                self._commit(batch)
            except BaseException as exc:  # answered as a failure; the agent sends again
                log.warning("committing %d heartbeat request(s) failed: %s", len(batch), exc)
                error = exc
            self._resolve(batch, error)

    def _commit(self, batch: list[_Pending]) -> None:
        rows: list[tuple[int, bytes, str, str]] = []
        for pending in batch:
            for a in pending.accepted:
                body = a.request.model_dump_json(exclude={"reasons"})
                rows.append((a.request.epoch, a.digest, body, json.dumps(a.entries)))
        newest = max(r[0] for r in rows) if rows else self.newest
        horizon = newest - self.keep_epochs
        with self.db.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO heartbeat_book VALUES (?, ?, ?, ?)", rows)
            if newest > self.newest:
                db.execute("DELETE FROM heartbeat_book WHERE epoch < ?", (horizon,))
        with self._lock:
            pruned = newest > self.newest
            for pending in batch:
                for a in pending.accepted:
                    self._apply(a.request.epoch, a.digest, a.entries)
            if pruned:
                for epoch in [e for e in self._views if e < horizon]:
                    del self._views[epoch]
        self.batches += 1

    @staticmethod
    def _resolve(batch: list[_Pending], error: BaseException | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for pending in batch:
            if pending.loop is not None:
                assert isinstance(pending.future, asyncio.Future)
                by_loop.setdefault(pending.loop, []).append(pending.future)
            elif isinstance(pending.future, Future):
                if error is None:
                    pending.future.set_result(None)
                else:
                    pending.future.set_exception(error)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, futures, error)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._writer.join(timeout=5)
        self.db.close()

    # ------------------------------------------------------------------ reading

    def epochs(self) -> list[int]:
        with self._lock:
            return sorted(self._views)

    def view(self, epoch: int) -> EpochView:
        """A copy of ``epoch``'s merged view (empty when no heartbeat came)."""
        with self._lock:
            view = self._views.get(epoch)
            return view.copy() if view is not None else EpochView()

    def bodies(self, epoch: int, digests: Iterable[bytes]) -> list[HeartbeatRequest]:
        """The signed heartbeats with these digests."""
        wanted = list(digests)
        found: list[HeartbeatRequest] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for (body,) in self.db.query(
                f"SELECT body FROM heartbeat_book WHERE epoch = ? AND digest IN ({marks})",
                (epoch, *chunk),
            ):
                found.append(HeartbeatRequest.model_validate_json(body))
        return found


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


__all__ = ["Accepted", "EpochView", "HeartbeatBook", "said"]
