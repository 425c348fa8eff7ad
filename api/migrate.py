"""Migrations of the API's own state (``api/migrations``, Alembic, version table
``alembic_version_api``), run when the API opens its state at start-up.

On one host the state is a SQLite file beside the API (``DEPIN_API_STATE_PATH``); across hosts
it is the PostgreSQL database the API reads the inventory from, where the indexer's own
migrations keep their ``alembic_version`` table: the two histories never meet. Processes that
start together migrate one at a time (an ``flock`` beside the SQLite file, an advisory lock on
PostgreSQL), and the later ones find the schema at its head.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine

from depin.postgres import advisory_key

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_api"

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "current_revision", "heads", "migrate_state"]


def _config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def heads() -> tuple[str, ...]:
    """The latest revision(s) of the API's state the code knows."""
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(_config()).get_heads())


def current_revision(engine: Engine) -> tuple[str, ...]:
    """The revision(s) the state database is at (empty if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return tuple(context.get_current_heads())


def migrate_state(engine: Engine, revision: str = "head") -> None:
    """Upgrades the API's state on ``engine`` to ``revision``, in one transaction that holds
    the database's migration lock on PostgreSQL (callers on SQLite hold a file lock)."""
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(%s)", (advisory_key("depin.api.schema"),)
            )
        command.upgrade(_config(connection), revision)


def migrate_sqlite_file(path: Path, revision: str = "head") -> None:
    """Migrates the SQLite state file ``path`` (created if absent) under an ``flock`` beside it."""
    from api.shared import ProcessLock

    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    try:
        with ProcessLock(path.with_name(path.name + ".migrate.lock")):
            migrate_state(engine, revision)
    finally:
        engine.dispose()
