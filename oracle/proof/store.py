"""Where issued challenges live until they are answered: single-use and time-bound.

The store is an interface; :class:`SqliteChallengeStore` is the oracle node's: it keeps the
challenges in the node's SQLite file, so an oracle restarted between issuing a challenge and
receiving its commitment or reveal still knows it (and still refuses a replay of it).
:class:`InMemoryChallengeStore` keeps them in one process only, for tests and tools. Every state
change is an atomic compare-and-set so two concurrent answers to one challenge cannot both be
accepted.

Next to each challenge the store keeps its claim: text owned by the caller (who asked, for which
GPU), stored with the challenge in one step, so that no stored challenge lacks the claim it was
issued with, and forgotten with the challenge when it is purged.
"""

from __future__ import annotations

import enum
import json
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from depin.proof.messages import Challenge, Commitment
from depin.proof.spec import Pick
from depin.sqlite import LocalDb

__all__ = [
    "ChallengeRecord",
    "ChallengeState",
    "ChallengeStore",
    "InMemoryChallengeStore",
    "SqliteChallengeStore",
    "decode_record",
    "encode_record",
]


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

    def add(self, records: list[ChallengeRecord], claims: Mapping[str, str] | None = None) -> None:
        """Store newly issued challenges (all of one batch) with their claims, all or nothing.

        Args:
            records: the new challenges.
            claims: challenge id -> claim (opaque text), for challenges of ``records``; kept
                until the challenge is purged.

        Raises:
            ValueError: a challenge is stored already or named twice, or a claim is for a
                challenge not in ``records``; then nothing is stored.
        """

    def get(self, challenge_id: str) -> ChallengeRecord | None:
        """The record of a challenge, or ``None`` if it is unknown (or purged)."""

    def batch(self, batch_id: str) -> list[ChallengeRecord] | None:
        """The records of a batch in issue order, or ``None`` if it is unknown."""

    def transition(self, expected: ChallengeRecord, new: ChallengeRecord) -> bool:
        """Replace ``expected`` by ``new`` if it is still current; ``False`` if it changed."""

    def purge(self, now: float, retention_s: float) -> int:
        """Forget challenges (and their claims) that expired more than ``retention_s`` ago;
        how many challenges went."""

    def claim(self, challenge_id: str) -> str | None:
        """The claim kept for a challenge, or ``None`` if there is none (or it was purged)."""


class InMemoryChallengeStore:
    """A thread-safe, in-process :class:`ChallengeStore`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, ChallengeRecord] = {}
        self._batches: dict[str, list[str]] = {}
        self._claims: dict[str, str] = {}

    def add(self, records: list[ChallengeRecord], claims: Mapping[str, str] | None = None) -> None:
        claims = dict(claims or {})
        with self._lock:
            seen: set[str] = set()
            for record in records:
                cid = record.challenge.challenge_id
                if cid in self._records or cid in seen:
                    raise ValueError(f"challenge {cid} already stored")
                seen.add(cid)
            _check_claims(claims, seen)
            for record in records:
                cid = record.challenge.challenge_id
                self._records[cid] = record
                self._batches.setdefault(record.challenge.batch_id, []).append(cid)
            self._claims.update(claims)

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
                self._claims.pop(cid, None)
                batch_id = self._records.pop(cid).challenge.batch_id
                ids = self._batches.get(batch_id, [])
                if cid in ids:
                    ids.remove(cid)
                if not ids:
                    self._batches.pop(batch_id, None)
            return len(gone)

    def claim(self, challenge_id: str) -> str | None:
        with self._lock:
            return self._claims.get(challenge_id)


def _check_claims(claims: Mapping[str, str], challenge_ids: set[str]) -> None:
    """Refuses claims for challenges other than ``challenge_ids`` (those of the batch)."""
    stray = sorted(set(claims) - challenge_ids)
    if stray:
        raise ValueError(f"claim for challenge {stray[0]}, which is not in the batch")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS challenges (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, challenge_id TEXT NOT NULL UNIQUE,
    batch_id TEXT NOT NULL, expires_at REAL NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS challenges_batch ON challenges (batch_id, seq);
CREATE TABLE IF NOT EXISTS challenge_claims (challenge_id TEXT PRIMARY KEY, claim TEXT NOT NULL);
"""


def encode_record(record: ChallengeRecord) -> str:
    """The record as JSON text; equal records give equal text (what the compare-and-set of
    :class:`SqliteChallengeStore` compares)."""
    document: dict[str, Any] = {
        "challenge": record.challenge.model_dump(mode="json"),
        "state": record.state.value,
        "commitment": (
            None if record.commitment is None else record.commitment.model_dump(mode="json")
        ),
        "committed_at": None if record.committed_at is None else float(record.committed_at),
        "picks": [[p.round, p.row] for p in record.picks],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)


def decode_record(text: str) -> ChallengeRecord:
    """The record :func:`encode_record` wrote."""
    document = json.loads(text)
    commitment = document["commitment"]
    committed_at = document["committed_at"]
    return ChallengeRecord(
        challenge=Challenge.model_validate(document["challenge"]),
        state=ChallengeState(document["state"]),
        commitment=None if commitment is None else Commitment.model_validate(commitment),
        committed_at=None if committed_at is None else float(committed_at),
        picks=tuple(Pick(int(rnd), int(row)) for rnd, row in document["picks"]),
    )


class SqliteChallengeStore(LocalDb):
    """A :class:`ChallengeStore` in a SQLite file (WAL), safe to share between threads.

    It may share the file of the oracle's :class:`oracle.store.Store` (its own tables, its own
    connection). Records are kept as :func:`encode_record` text, and a transition is one
    ``UPDATE`` that matches the expected text, so of two transitions from the same record (from
    any thread or process on the file) one succeeds.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def add(self, records: list[ChallengeRecord], claims: Mapping[str, str] | None = None) -> None:
        claims = dict(claims or {})
        _check_claims(claims, {r.challenge.challenge_id for r in records})
        with self.transaction() as db:
            for record in records:
                c = record.challenge
                try:
                    db.execute(
                        "INSERT INTO challenges (challenge_id, batch_id, expires_at, record) "
                        "VALUES (?, ?, ?, ?)",
                        (c.challenge_id, c.batch_id, c.expires_at, encode_record(record)),
                    )
                except sqlite3.IntegrityError:
                    raise ValueError(f"challenge {c.challenge_id} already stored") from None
            # The claims go in the transaction of their challenges: a process killed in between
            # leaves neither.
            db.executemany("INSERT OR REPLACE INTO challenge_claims VALUES (?, ?)", claims.items())

    def get(self, challenge_id: str) -> ChallengeRecord | None:
        rows = self.query("SELECT record FROM challenges WHERE challenge_id = ?", (challenge_id,))
        return decode_record(rows[0][0]) if rows else None

    def batch(self, batch_id: str) -> list[ChallengeRecord] | None:
        rows = self.query(
            "SELECT record FROM challenges WHERE batch_id = ? ORDER BY seq", (batch_id,)
        )
        return [decode_record(text) for (text,) in rows] or None

    def transition(self, expected: ChallengeRecord, new: ChallengeRecord) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE challenges SET record = ? WHERE challenge_id = ? AND record = ?",
                (encode_record(new), expected.challenge.challenge_id, encode_record(expected)),
            )
            return cur.rowcount == 1

    def purge(self, now: float, retention_s: float) -> int:
        with self.transaction() as db:
            db.execute(
                "DELETE FROM challenge_claims WHERE challenge_id IN "
                "(SELECT challenge_id FROM challenges WHERE expires_at + ? < ?)",
                (retention_s, now),
            )
            cur = db.execute("DELETE FROM challenges WHERE expires_at + ? < ?", (retention_s, now))
            return int(cur.rowcount)

    def claim(self, challenge_id: str) -> str | None:
        rows = self.query(
            "SELECT claim FROM challenge_claims WHERE challenge_id = ?", (challenge_id,)
        )
        return str(rows[0][0]) if rows else None


def consumed(record: ChallengeRecord) -> ChallengeRecord:
    """The record marked used."""
    return replace(record, state=ChallengeState.CONSUMED)
