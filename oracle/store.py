"""The oracle's durable state in SQLite (WAL): used challenges, approvals, the transmit queue,
sent transactions and heartbeats. Every state change is one transaction, so a killed oracle
resumes where it stopped without losing or repeating anything. The proof-of-compute challenges
live in the same file, in tables of their own (:class:`oracle.proof.SqliteChallengeStore`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from depin.sqlite import LocalDb

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
CREATE TABLE IF NOT EXISTS txs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, nonce INTEGER NOT NULL,
    tx_hash BLOB NOT NULL, raw BLOB NOT NULL, state TEXT NOT NULL DEFAULT 'sent',
    epoch INTEGER, sent_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tx_hashes (
    tx_id INTEGER NOT NULL, tx_hash BLOB NOT NULL, PRIMARY KEY (tx_id, tx_hash));
CREATE TABLE IF NOT EXISTS heartbeats (
    epoch INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (epoch, idx));
CREATE TABLE IF NOT EXISTS liveness (epoch INTEGER PRIMARY KEY, state TEXT NOT NULL);
"""


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
            "SELECT digest, entry, created_at FROM queue WHERE state = 'pending' "
            "ORDER BY created_at LIMIT ?",
            (limit,),
        )
        return [(bytes(d), json.loads(e), float(c)) for d, e, c in rows]

    def queue_states(self) -> dict[str, int]:
        return {
            str(s): int(n)
            for s, n in self.query("SELECT state, COUNT(*) FROM queue GROUP BY state")
        }

    # ------------------------------------------------------------------ heartbeats

    def add_heartbeats(self, epoch: int, indices: list[int]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO heartbeats VALUES (?, ?)", [(epoch, i) for i in indices]
            )

    def seen(self, epoch: int) -> set[int]:
        return {
            int(i) for (i,) in self.query("SELECT idx FROM heartbeats WHERE epoch = ?", (epoch,))
        }

    def heartbeat_epochs(self) -> list[int]:
        return [
            int(e) for (e,) in self.query("SELECT DISTINCT epoch FROM heartbeats ORDER BY epoch")
        ]

    def liveness_state(self, epoch: int) -> str | None:
        rows = self.query("SELECT state FROM liveness WHERE epoch = ?", (epoch,))
        return str(rows[0][0]) if rows else None

    def set_liveness_state(self, epoch: int, state: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO liveness VALUES (?, ?)", (epoch, state))
