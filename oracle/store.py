"""The oracle's durable state in SQLite (WAL): used challenges, approvals, the transmit queue
and liveness epochs. Every state change is one transaction, so a killed oracle resumes where it
stopped without losing or repeating anything. The proof-of-compute challenges
(:class:`oracle.proof.SqliteChallengeStore`) and the sent transactions
(:class:`depin.txsender.SqliteLedger`) live in the same file, in tables of their own."""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from depin.sqlite import LocalDb
from depin.txsender import TxState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS used_challenges (
    challenge BLOB PRIMARY KEY, digest BLOB NOT NULL, used_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (
    digest BLOB PRIMARY KEY, config_version INTEGER NOT NULL, signature BLOB NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS queue (
    digest BLOB PRIMARY KEY, entry TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    batch_id INTEGER, reason INTEGER, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS queue_state ON queue (state, created_at);
CREATE TABLE IF NOT EXISTS liveness (epoch INTEGER PRIMARY KEY, state TEXT NOT NULL);
"""


class QueueState(enum.StrEnum):
    """Where a queued bundle stands."""

    PENDING = "pending"
    SENT = TxState.SENT.value
    """In a batch whose transaction is on its way (``batch_id`` names the batch)."""
    DONE = "done"
    REJECTED = "rejected"
    """Mined, but the contract rejected it (``reason`` says why)."""


class LivenessState(enum.StrEnum):
    """Where an epoch's liveness record stands (no row: not sent yet)."""

    SENT = TxState.SENT.value
    """Its transaction is on its way."""
    DONE = "done"
    REFUSED = "refused"
    SUPERSEDED = "superseded"
    """A later epoch was recorded first; this one can no longer be."""
    MISSED = "missed"
    """No quorum co-signed it before the retry window closed: a gap on the chain."""


class Store(LocalDb):
    """One SQLite file per oracle; safe to share between the HTTP threads and the transmitter."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    # ------------------------------------------------------------------ challenges / approvals

    def use_challenge(self, challenge: bytes, digest: bytes) -> bool:
        """Marks ``challenge`` used by attestation ``digest``; False if another one used it."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT digest FROM used_challenges WHERE challenge = ?", (challenge,)
            ).fetchone()
            if row is not None:
                return bytes(row[0]) == digest
            db.execute(
                "INSERT INTO used_challenges VALUES (?, ?, ?)", (challenge, digest, time.time())
            )
            return True

    def use_challenge_and_approve(
        self, challenge: bytes, digest: bytes, config_version: int, sign: Callable[[], bytes]
    ) -> bytes | None:
        """In one transaction: marks ``challenge`` used by ``digest`` and stores this oracle's
        approval (made by ``sign`` unless one exists). None when another attestation used the
        challenge."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT digest FROM used_challenges WHERE challenge = ?", (challenge,)
            ).fetchone()
            if row is not None and bytes(row[0]) != digest:
                return None
            if row is None:
                db.execute(
                    "INSERT INTO used_challenges VALUES (?, ?, ?)", (challenge, digest, time.time())
                )
            found = db.execute(
                "SELECT signature FROM approvals WHERE digest = ? AND config_version = ?",
                (digest, config_version),
            ).fetchone()
            if found is not None:
                return bytes(found[0])
            signature = sign()
            db.execute(
                "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?)",
                (digest, config_version, signature, time.time()),
            )
            return signature

    def save_approval(self, digest: bytes, config_version: int, signature: bytes) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?)",
                (digest, config_version, signature, time.time()),
            )

    def approval(self, digest: bytes, config_version: int) -> bytes | None:
        rows = self.query(
            "SELECT signature FROM approvals WHERE digest = ? AND config_version = ?",
            (digest, config_version),
        )
        return bytes(rows[0][0]) if rows else None

    # ------------------------------------------------------------------ queue

    def enqueue(self, digest: bytes, entry: dict[str, Any]) -> bool:
        """Queues a bundle once; returns False when it was already queued."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO queue (digest, entry, created_at) VALUES (?, ?, ?)",
                (digest, json.dumps(entry), time.time()),
            )
            return cur.rowcount == 1

    def pending(self, limit: int) -> list[tuple[bytes, dict[str, Any], float]]:
        rows = self.query(
            "SELECT digest, entry, created_at FROM queue WHERE state = ? "
            "ORDER BY created_at LIMIT ?",
            (QueueState.PENDING.value, limit),
        )
        return [(bytes(d), json.loads(e), float(c)) for d, e, c in rows]

    def mark_sent(self, digests: list[bytes], batch: str) -> None:
        """Puts the entries in ``batch``, before its transaction is signed."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE queue SET state = ?, batch_id = ? WHERE digest = ?",
                [(QueueState.SENT.value, batch, d) for d in digests],
            )

    def requeue(self, batch: str) -> None:
        """The entries of ``batch`` go back to the queue (its transaction did not land)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE queue SET state = ?, batch_id = NULL WHERE batch_id = ? AND state = ?",
                (QueueState.PENDING.value, batch, QueueState.SENT.value),
            )

    def batch_entries(self, batch: str) -> list[tuple[bytes, dict[str, Any]]]:
        rows = self.query(
            "SELECT digest, entry FROM queue WHERE batch_id = ? AND state = ?",
            (batch, QueueState.SENT.value),
        )
        return [(bytes(d), json.loads(e)) for d, e in rows]

    def finish(self, outcomes: list[tuple[bytes, int | None]]) -> None:
        """Settles sent entries: done, or rejected with the contract's reason."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE queue SET state = ?, reason = ? WHERE digest = ?",
                [
                    (QueueState.REJECTED.value if r else QueueState.DONE.value, r, d)
                    for d, r in outcomes
                ],
            )

    def sent_batches(self) -> list[str]:
        rows = self.query(
            "SELECT DISTINCT batch_id FROM queue WHERE state = ?", (QueueState.SENT.value,)
        )
        return [str(b) for (b,) in rows]

    def queue_states(self) -> dict[str, int]:
        return {
            str(s): int(n)
            for s, n in self.query("SELECT state, COUNT(*) FROM queue GROUP BY state")
        }

    # ------------------------------------------------------------------ liveness epochs

    def liveness_state(self, epoch: int) -> LivenessState | None:
        rows = self.query("SELECT state FROM liveness WHERE epoch = ?", (epoch,))
        return LivenessState(rows[0][0]) if rows else None

    def set_liveness_state(self, epoch: int, state: LivenessState | None) -> None:
        """Records the epoch's state; ``None`` forgets it (the epoch is to be sent again)."""
        with self.transaction() as db:
            if state is None:
                db.execute("DELETE FROM liveness WHERE epoch = ?", (epoch,))
            else:
                db.execute("INSERT OR REPLACE INTO liveness VALUES (?, ?)", (epoch, state.value))

    def liveness_epochs(self, state: LivenessState) -> list[int]:
        rows = self.query("SELECT epoch FROM liveness WHERE state = ?", (state.value,))
        return [int(e) for (e,) in rows]
