"""A local SQLite file for a role's own durable state (the oracle's queue and challenges, the
API's shared nonces and limits): WAL, and one ``BEGIN IMMEDIATE`` transaction per change."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["LocalDb"]


class LocalDb:
    """One connection, safe to share between threads; several processes may open the file."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL survives a killed process (every commit is in the log); only a power
        # loss may drop the last commits.
        self.db.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint every 10,000 pages (about 40 MB of log), not 1,000: writers that rewrite
        # the same pages step after step (the alert watches) checkpoint them once, not each time.
        self.db.execute("PRAGMA wal_autocheckpoint=10000")
        self.db.executescript(schema)
        self.lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: other threads and processes wait until it ends."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return list(self.db.execute(sql, args).fetchall())

    def close(self) -> None:
        with self.lock:
            self.db.close()
