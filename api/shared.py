"""State the API's processes share: SIWE nonces, rate-limit buckets, the relayer's send lock
and the relayer's sent transactions.

``depin api serve --workers N`` runs N processes behind one port, and several hosts may serve
behind one load balancer. Kept in each process's memory, a nonce issued by one process was
unknown to the one that received the signed message, every process enforced its own rate
limits (N times the configured rate), and two processes relaying at once could take the same
relayer nonce. Two stores make the four hold across processes:

- :class:`SharedState`, on one host (the default): a small SQLite file (WAL;
  ``DEPIN_API_STATE_PATH``, by default ``api-state.sqlite3`` in the API's home) and an
  ``flock`` beside it for the relayer;
- :class:`PostgresSharedState`, across hosts, when the API's database is PostgreSQL: the same
  tables in that database, and the relayer's nonce under a PostgreSQL advisory lock.

The tables are created and changed by the API's own Alembic migrations (:mod:`api.migrate`,
version table ``alembic_version_api``), run when either store opens; only the relayer's ledger
tables are still created by :mod:`depin.txsender`, which the oracle shares.

Either way a change is one transaction (:meth:`transaction`), whose ``execute`` takes SQL with
``?`` placeholders that both understand, and whose ``lock(key)`` serializes the transactions
that read and then write one key (SQLite's ``BEGIN IMMEDIATE`` already serializes them all).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection

from api.errors import NotFoundError, NotOwnerError
from depin.locks import HeldLock
from depin.postgres import AdvisoryLock, advisory_key, is_postgres, writable_engine
from depin.sqlite import LocalDb
from depin.txsender import Ledger, PostgresLedger, SqliteLedger

RELAY_TABLES = {"table": "relay_txs", "hashes_table": "relay_tx_hashes"}


class Result(Protocol):
    """What :meth:`Tx.execute` returns (a DB-API cursor or SQLAlchemy's result)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Any: ...


class Tx(Protocol):
    """One transaction on the shared state."""

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Result:
        """Runs ``sql`` (``?`` placeholders)."""

    def lock(self, key: str) -> None:
        """Holds ``key`` until the transaction ends, against every process's transactions."""


class RelayStore(Ledger, Protocol):
    """The relayer's ledger, closed with the application."""

    def close(self) -> None: ...


class State(Protocol):
    """What the API's routes use of the shared state, on either store."""

    def transaction(self) -> AbstractContextManager[Tx]: ...

    def relay_lock(self) -> AbstractContextManager[Any]: ...

    def relay_ledger(self) -> RelayStore: ...

    def close(self) -> None: ...


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Result:
        return self.db.execute(sql, args)

    def lock(self, key: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` holds the whole file."""


class SharedState(LocalDb):
    """The shared file of one host; every change is one ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, path: Path) -> None:
        from api.migrate import migrate_sqlite_file

        migrate_sqlite_file(Path(path))
        super().__init__(path, "")

    @contextmanager
    def transaction(self) -> Iterator[_SqliteTx]:  # type: ignore[override]
        with super().transaction() as db:
            yield _SqliteTx(db)

    def relay_lock(self) -> ProcessLock:
        """The lock that serializes the relayer's transactions across processes."""
        return ProcessLock(self.path.with_name(self.path.name + ".relayer.lock"))

    def relay_ledger(self) -> SqliteLedger:
        """The relayer's sent transactions, in tables of their own in this file."""
        return SqliteLedger(self.path, **RELAY_TABLES)


class _PostgresTx:
    def __init__(self, db: Connection) -> None:
        self.db = db

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Result:
        return self.db.exec_driver_sql(sql.replace("?", "%s"), args)

    def lock(self, key: str) -> None:
        self.db.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (advisory_key(key),))


class PostgresSharedState:
    """The state of every API host on one PostgreSQL database (READ COMMITTED transactions;
    what reads then writes a key takes its advisory lock first)."""

    def __init__(self, url: str) -> None:
        from api.migrate import migrate_state

        self.engine = writable_engine(url)
        migrate_state(self.engine)  # under a lock: hosts starting together do not race

    @contextmanager
    def transaction(self) -> Iterator[_PostgresTx]:
        with self.engine.begin() as db:
            yield _PostgresTx(db)

    def relay_lock(self) -> AdvisoryLock:
        """The lock that serializes the relayer's transactions across every host."""
        return AdvisoryLock(self.engine, "depin.api.relayer")

    def relay_ledger(self) -> PostgresLedger:
        """The relayer's sent transactions, in tables of their own in this database."""
        return PostgresLedger(self.engine, **RELAY_TABLES)

    def close(self) -> None:
        self.engine.dispose()


def open_shared_state(database_url: str, path: Path) -> SharedState | PostgresSharedState:
    """PostgreSQL when the API's database is (several hosts), else the SQLite file ``path``."""
    if is_postgres(database_url):
        return PostgresSharedState(database_url)
    return SharedState(path)


class ProcessLock(HeldLock):
    """A lock held by one thread of one process at a time (``flock`` on a file + a mutex)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file: int | None = None

    def _take(self) -> None:
        self._file = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def _drop(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            os.close(self._file)
            self._file = None


def now() -> float:
    """Wall-clock seconds: the one clock every process agrees on."""
    return time.time()


class Owned(Protocol):
    """A record that a provider owns."""

    @property
    def provider(self) -> str: ...


OwnedT = TypeVar("OwnedT", bound=Owned)


def owned(
    tx: Tx,
    table: str,
    columns: str,
    what: str,
    key: str,
    provider: str,
    make: Callable[[Any], OwnedT],
) -> OwnedT:
    """Row ``key`` (its ``id``) of ``table`` as ``make`` makes it of its ``columns``, which must
    be ``provider``'s: 404 if there is none, 403 if it is another provider's (``what`` names it
    in the problem)."""
    row = tx.execute(f"SELECT {columns} FROM {table} WHERE id = ?", (key,)).fetchone()
    if row is None:
        raise NotFoundError(f"no {what} {key}")
    record = make(row)
    if record.provider != provider:
        raise NotOwnerError(f"{what} {key} is not one of {provider}'s")
    return record
