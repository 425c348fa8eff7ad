"""PostgreSQL for a role's own shared state (the API's hosts behind one load balancer): an
engine that may write, and advisory locks that every process on the database honours."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url

from depin.locks import HeldLock

__all__ = ["AdvisoryLock", "advisory_key", "is_postgres", "writable_engine"]


def is_postgres(url: str) -> bool:
    """Whether the SQLAlchemy ``url`` names a PostgreSQL database."""
    try:
        return make_url(url).get_backend_name() == "postgresql"
    except Exception:  # a malformed URL is not PostgreSQL; its owner reports it
        return False


def writable_engine(url: str, **kwargs: Any) -> Engine:
    """A pooled READ COMMITTED engine on ``url`` (psycopg 3 whatever driver the URL names)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string()}")
    kwargs.setdefault("pool_size", 4)
    kwargs.setdefault("max_overflow", 8)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed.set(drivername="postgresql+psycopg"), **kwargs)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (``pg_advisory_*`` take a ``bigint``)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)


class AdvisoryLock(HeldLock):
    """A lock held by one thread of one process on the whole database at a time: a
    transaction-level advisory lock (``pg_advisory_xact_lock``) on a connection of its own,
    released when the transaction ends, or when a killed process's connection drops."""

    def __init__(self, engine: Engine, name: str) -> None:
        super().__init__()
        self.engine = engine
        self.key = advisory_key(name)
        self._conn: Connection | None = None

    def _take(self) -> None:
        self._conn = self.engine.connect()
        self._conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (self.key,))

    def _drop(self) -> None:
        try:
            if self._conn is not None:
                try:
                    self._conn.commit()  # ends the transaction: the lock goes with it
                finally:
                    self._conn.close()
        finally:
            self._conn = None
