"""Refuses to serve a database whose migrations are behind the code's."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from depin.errors import ConfigurationError
from indexer.db import require_at_head
from indexer.errors import DatabaseNotMigratedError

MIGRATE_HINT = "run `depin indexer migrate`"


def check_database(engine: Engine) -> None:
    """Raises a :class:`ConfigurationError` (a sentence saying what to run) unless the
    inventory database is at the latest migration."""
    database = engine.url.database
    is_file = engine.url.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
    if is_file and not Path(str(database)).exists():
        raise ConfigurationError(
            f"there is no inventory database at {database}; {MIGRATE_HINT} (and run the "
            "indexer) before starting the API"
        )
    try:
        require_at_head(engine)
    except DatabaseNotMigratedError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"cannot read the inventory database's migration state at {engine.url!r} ({exc}); "
            f"{MIGRATE_HINT}"
        ) from exc
