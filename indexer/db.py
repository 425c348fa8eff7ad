"""Database engines, sessions and migrations for SQLite (WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from indexer._sql import dumps
from indexer.errors import DatabaseNotMigratedError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _normalize_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages: the inventory's hot b-trees
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite files get WAL mode, ``synchronous=NORMAL`` (durable at each
    checkpointed transaction boundary in WAL) and a busy timeout; their folder is created."""
    url = _normalize_url(url)
    parsed = make_url(url)
    kwargs.setdefault("json_serializer", dumps)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A ``sessionmaker`` for reading the inventory with the ORM models."""
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrades the schema to ``revision`` (the latest by default)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def migration_heads() -> tuple[str, ...]:
    """The latest revision(s) the code knows."""
    from alembic.script import ScriptDirectory

    return tuple(
        ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://"))).get_heads()
    )


def current_revision(engine: Engine) -> tuple[str, ...]:
    """The revision(s) the database is at (empty if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def is_at_head(engine: Engine) -> bool:
    """Whether the database schema is at the latest migration (for readiness checks)."""
    return set(current_revision(engine)) == set(migration_heads())


def require_at_head(engine: Engine) -> None:
    """Raises :class:`DatabaseNotMigratedError` unless the schema is at the latest migration."""
    current, heads = current_revision(engine), migration_heads()
    if set(current) != set(heads):
        raise DatabaseNotMigratedError(",".join(current) or None, ",".join(heads) or None)
