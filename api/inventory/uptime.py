"""Each GPU's uptime over the last 24 hours and 7 days, from the recorded liveness bitmaps.

A GPU's uptime over a window is the share of the window's *recorded* epochs that saw it online,
counting only the records made after its first attestation (and any that saw it online). An
epoch without a record (no quorum) counts neither way.

Pages ask for the uptime of a few GPUs many times per epoch, so the window's bitmaps are decoded
once into a matrix of packed bytes (one row per record) and a page takes the columns of its GPU
indexes with numpy. A record is decoded once in its life (records are keyed by epoch and
transaction, so a reorg that replaces one is seen); the matrix is rebuilt when the set of
records in the window changes, not on every block.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.inventory._tables import L
from api.inventory.lru import LruCache
from api.inventory.snapshot import Snapshot

#: field name -> window length in seconds
WINDOWS: dict[str, int] = {"uptime_24h": 86_400, "uptime_7d": 7 * 86_400}


def window_epochs(seconds: int, epoch_length: int) -> int:
    """How many epochs a window of ``seconds`` spans (at least one)."""
    return max(1, seconds // epoch_length)


def decode_bitmap(value: str | None) -> npt.NDArray[np.uint8]:
    """A ``0x``-hex bitmap as packed bytes (bit i: byte i / 8, mask 0x80 >> i % 8)."""
    if not value or len(value) <= 2:
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer(bytes.fromhex(value[2:]), dtype=np.uint8)


def bits_at(matrix: npt.NDArray[np.uint8], indexes: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """``matrix``'s bits at GPU ``indexes``: one row per record, one column per index."""
    rows, width = matrix.shape
    if width == 0 or rows == 0:
        return np.zeros((rows, len(indexes)), dtype=np.bool_)
    byte = indexes >> 3
    inside = byte < width
    columns = matrix[:, np.minimum(byte, width - 1)]
    shift = (7 - (indexes & 7)).astype(np.uint8)
    bits: npt.NDArray[np.bool_] = ((columns >> shift) & 1).astype(np.bool_) & inside
    return bits


@dataclass(frozen=True)
class Window:
    """The records of one window: their blocks and their online bitmaps, row by row."""

    blocks: npt.NDArray[np.int64]
    online: npt.NDArray[np.uint8]

    def uptime(self, indexes: Sequence[int], first_blocks: Sequence[int]) -> list[float | None]:
        """Each GPU's share of the window's records (made after its first attestation, or
        seeing it online) that saw it online; None where no record counts."""
        if not indexes:
            return []
        at = np.asarray(indexes, dtype=np.int64)
        first = np.asarray(first_blocks, dtype=np.int64)
        online = bits_at(self.online, at)
        counted = (self.blocks[:, None] > first[None, :]) | online
        up = online.sum(axis=0)
        of = counted.sum(axis=0)
        return [float(u) / float(n) if n else None for u, n in zip(up, of, strict=True)]


_EMPTY = Window(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.uint8))


class Uptimes:
    """Decoded bitmaps shared by every page (thread-safe: pages compute in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: (epoch, tx_hash) -> (block, packed online bitmap)
        self._records: dict[tuple[int, str], tuple[int, npt.NDArray[np.uint8]]] = {}
        self._windows = LruCache(size=8)
        self._listings = LruCache(size=8)

    def window(self, session: Session, known: Snapshot, seconds: int) -> Window:
        """The records of the ``seconds`` up to the chain's current epoch."""
        end = known.current_epoch
        if end is None or not known.epoch_length:
            return _EMPTY
        start = end - window_epochs(seconds, known.epoch_length) + 1
        listing = self._listing(session, known, start, end)
        cached: Window | None = self._windows.get(listing)
        if cached is not None:
            return cached
        missing = [key for key in listing if key not in self._records]
        if missing:
            self._decode(session, start, end, set(missing))
        with self._lock:
            rows = [self._records[key] for key in listing if key in self._records]
        width = max((len(bits) for _, bits in rows), default=0)
        matrix = np.zeros((len(rows), width), dtype=np.uint8)
        for i, (_, bits) in enumerate(rows):
            matrix[i, : len(bits)] = bits
        made = Window(np.asarray([b for b, _ in rows], dtype=np.int64), matrix)
        self._windows.put(listing, made)
        self._forget(end - window_epochs(max(WINDOWS.values()), known.epoch_length) + 1)
        return made

    def _listing(
        self, session: Session, known: Snapshot, start: int, end: int
    ) -> tuple[tuple[int, str], ...]:
        key = (known, start, end)
        found: tuple[tuple[int, str], ...] | None = self._listings.get(key)
        if found is None:
            found = tuple(
                (int(e), str(t))
                for e, t in session.execute(
                    select(L.epoch, L.tx_hash)
                    .where(L.epoch >= start, L.epoch <= end)
                    .order_by(L.epoch, L.tx_hash)
                ).all()
            )
            self._listings.put(key, found)
        return found

    def _decode(self, session: Session, start: int, end: int, wanted: set[tuple[int, str]]) -> None:
        statement = select(L.epoch, L.tx_hash, L.block_number, L.bitmap)
        epochs = sorted({e for e, _ in wanted})
        if len(epochs) <= 64:  # a new record or two: only theirs
            statement = statement.where(L.epoch.in_(epochs))
        else:
            statement = statement.where(L.epoch >= start, L.epoch <= end)
        rows = session.execute(statement).all()
        decoded = {
            (int(r.epoch), str(r.tx_hash)): (int(r.block_number), decode_bitmap(r.bitmap))
            for r in rows
            if (int(r.epoch), str(r.tx_hash)) in wanted
        }
        with self._lock:
            self._records.update(decoded)

    def _forget(self, oldest: int) -> None:
        """Drops records before the longest window's first epoch (they never count again)."""
        with self._lock:
            for key in [k for k in self._records if k[0] < oldest]:
                del self._records[key]

    def of(
        self, session: Session, known: Snapshot, gpus: Sequence[tuple[int, int]]
    ) -> list[dict[str, float | None]]:
        """``{"uptime_24h", "uptime_7d"}`` of each (GPU index, first attested block)."""
        indexes = [i for i, _ in gpus]
        firsts = [b for _, b in gpus]
        columns = {
            name: self.window(session, known, seconds).uptime(indexes, firsts)
            for name, seconds in WINDOWS.items()
        }
        return [{name: columns[name][i] for name in WINDOWS} for i in range(len(gpus))]
