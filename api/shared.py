"""State the API's worker processes share on one host: SIWE nonces, rate-limit buckets, the
relayer's send lock and the relayer's sent transactions.

``depin api serve --workers N`` runs N processes behind one port. Kept in each process's
memory, a nonce issued by one worker was unknown to the worker that received the signed
message (most sign-ins failed), every worker enforced its own rate limits (N times the
configured rate), and two workers relaying at once could fetch the same relayer nonce. A small
SQLite file (WAL; ``DEPIN_API_STATE_PATH``, by default ``api-state.sqlite3`` in the API's home)
and an ``flock`` beside it make the three hold across processes. Several hosts behind one
load balancer would need a network store instead.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType

from depin.sqlite import LocalDb
from depin.txsender import SqliteLedger

_SCHEMA = """
CREATE TABLE IF NOT EXISTS siwe_nonces (
    nonce TEXT PRIMARY KEY, expires_at REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS siwe_nonces_expiry ON siwe_nonces (expires_at);
CREATE TABLE IF NOT EXISTS rate_buckets (
    key TEXT PRIMARY KEY, tokens REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS rate_buckets_updated ON rate_buckets (updated);
"""


class SharedState(LocalDb):
    """The shared file; every change is one ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def relay_lock(self) -> ProcessLock:
        """The lock that serializes the relayer's transactions across processes."""
        return ProcessLock(self.path.with_name(self.path.name + ".relayer.lock"))

    def relay_ledger(self) -> SqliteLedger:
        """The relayer's sent transactions, in tables of their own in this file."""
        return SqliteLedger(self.path, table="relay_txs", hashes_table="relay_tx_hashes")


class ProcessLock:
    """A lock held by one thread of one process at a time (``flock`` on a file + a mutex)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mutex = threading.Lock()
        self._file: int | None = None

    def __enter__(self) -> ProcessLock:
        self._mutex.acquire()
        try:
            self._file = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            os.close(self._file)
            self._file = None
        self._mutex.release()


def now() -> float:
    """Wall-clock seconds: the one clock every process agrees on."""
    return time.time()
