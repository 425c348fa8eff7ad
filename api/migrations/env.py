"""Alembic environment of the API's own state (SIWE nonces, rate limits, session
revocations, API tokens, webhook alerts): runs on the connection handed over by
:func:`api.migrate.migrate_state`, or on ``sqlalchemy.url`` when alembic is run by hand.
Its version table is ``alembic_version_api``, so on PostgreSQL it shares the inventory's
database with the indexer's migrations without touching them."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from api.migrate import VERSION_TABLE

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=None,
        version_table=VERSION_TABLE,
        render_as_batch=getattr(getattr(connection, "dialect", None), "name", "") == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url") or "").begin() as conn:
        _run(conn)
