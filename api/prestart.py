"""Refuses to serve a database whose migrations are behind the code's."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from depin.errors import ConfigurationError

MIGRATE_HINT = "run `depin indexer migrate`"


class DatabaseBehindError(ConfigurationError):
    code = "api_database_behind"

    def __init__(self, current: str | None, head: str | None) -> None:
        self.current = current
        self.head = head
        super().__init__(
            f"the inventory database is at migration {current or 'none (empty)'} but the code "
            f"expects {head}; {MIGRATE_HINT} before starting the API"
        )


def _migrations_dir() -> Path:
    import indexer

    return Path(indexer.__file__).parent / "migrations"


def heads_and_current(engine: Engine) -> tuple[str | None, str | None]:
    """(the code's head revision, the database's current revision)."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_migrations_dir()))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return head, current


def check_database(engine: Engine) -> None:
    """Raises :class:`DatabaseBehindError` unless the database is at the head migration."""
    try:
        head, current = heads_and_current(engine)
    except DatabaseBehindError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"cannot read the inventory database's migration state ({exc}); {MIGRATE_HINT}"
        ) from exc
    if current != head:
        raise DatabaseBehindError(current, head)
