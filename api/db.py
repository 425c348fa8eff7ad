"""Read-only access to the indexer's inventory database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def read_only_engine(url: str, **kwargs: Any) -> Engine:
    """An engine whose connections refuse writes and read from one snapshot per session.

    SQLite: ``query_only`` and an explicit ``BEGIN`` (WAL gives each read transaction a
    snapshot; pysqlite would otherwise run each SELECT in its own). PostgreSQL: read-only
    REPEATABLE READ transactions. Either way every answer and its ``as_of_block`` agree.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(parsed, **kwargs)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only = ON")
            cursor.execute("PRAGMA busy_timeout = 30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("isolation_level", "REPEATABLE READ")
    # No JIT: the explorer's statements are short, but a walk that may stop at any row is
    # costed as reading the whole table, past jit_above_cost, and compiling it took 35-50 ms
    # of each such request at 1M GPUs (its run time was a few).
    kwargs.setdefault("connect_args", {"options": "-c default_transaction_read_only=on -c jit=off"})
    return create_engine(parsed, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, autoflush=False, expire_on_commit=False)
