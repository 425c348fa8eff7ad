"""Where issued challenges live until they are answered: single-use and time-bound.

The store is an interface so that the oracle's HTTP server can keep challenges in memory on one
node or in a shared database behind a load balancer; :class:`InMemoryChallengeStore` is the
one-process implementation. Every state change is an atomic compare-and-set so two concurrent
answers to one challenge cannot both be accepted.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, replace
from typing import Protocol

from depin.proof.messages import Challenge, Commitment
from depin.proof.spec import Pick

__all__ = ["ChallengeRecord", "ChallengeState", "ChallengeStore", "InMemoryChallengeStore"]


class ChallengeState(enum.Enum):
    ISSUED = "issued"
    COMMITTED = "committed"
    CONSUMED = "consumed"


@dataclass(frozen=True)
class ChallengeRecord:
    challenge: Challenge
    state: ChallengeState = ChallengeState.ISSUED
    commitment: Commitment | None = None
    committed_at: float | None = None
    picks: tuple[Pick, ...] = ()


class ChallengeStore(Protocol):
    """Storage of challenge records and their batches."""

    def add(self, records: list[ChallengeRecord]) -> None:
        """Store newly issued challenges (all of one batch)."""

    def get(self, challenge_id: str) -> ChallengeRecord | None:
        """The record of a challenge, or ``None`` if it is unknown (or purged)."""

    def batch(self, batch_id: str) -> list[ChallengeRecord] | None:
        """The records of a batch in issue order, or ``None`` if it is unknown."""

    def transition(self, expected: ChallengeRecord, new: ChallengeRecord) -> bool:
        """Replace ``expected`` by ``new`` if it is still current; ``False`` if it changed."""

    def purge(self, now: float, retention_s: float) -> int:
        """Forget challenges that expired more than ``retention_s`` ago; how many went."""


class InMemoryChallengeStore:
    """A thread-safe, in-process :class:`ChallengeStore`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, ChallengeRecord] = {}
        self._batches: dict[str, list[str]] = {}

    def add(self, records: list[ChallengeRecord]) -> None:
        with self._lock:
            for record in records:
                cid = record.challenge.challenge_id
                if cid in self._records:
                    raise ValueError(f"challenge {cid} already stored")
                self._records[cid] = record
                self._batches.setdefault(record.challenge.batch_id, []).append(cid)

    def get(self, challenge_id: str) -> ChallengeRecord | None:
        with self._lock:
            return self._records.get(challenge_id)

    def batch(self, batch_id: str) -> list[ChallengeRecord] | None:
        with self._lock:
            ids = self._batches.get(batch_id)
            if ids is None:
                return None
            return [self._records[cid] for cid in ids if cid in self._records]

    def transition(self, expected: ChallengeRecord, new: ChallengeRecord) -> bool:
        with self._lock:
            cid = expected.challenge.challenge_id
            if self._records.get(cid) is not expected:
                return False
            self._records[cid] = new
            return True

    def purge(self, now: float, retention_s: float) -> int:
        with self._lock:
            gone = [
                cid
                for cid, r in self._records.items()
                if r.challenge.expires_at + retention_s < now
            ]
            for cid in gone:
                batch_id = self._records.pop(cid).challenge.batch_id
                ids = self._batches.get(batch_id, [])
                if cid in ids:
                    ids.remove(cid)
                if not ids:
                    self._batches.pop(batch_id, None)
            return len(gone)


def consumed(record: ChallengeRecord) -> ChallengeRecord:
    """The record marked used."""
    return replace(record, state=ChallengeState.CONSUMED)
