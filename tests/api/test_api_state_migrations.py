"""The API's own state is under Alembic migrations of its own (``alembic_version_api``), run when
the state opens, on SQLite and PostgreSQL, beside the indexer's migrations."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import create_engine, inspect

from api.migrate import VERSION_TABLE, current_revision, heads
from api.shared import PostgresSharedState, SharedState, open_shared_state
from indexer.db import make_engine, migrate, require_at_head

#: the tables of the shared state every worker uses
STATE_TABLES = {"siwe_nonces", "rate_buckets"}


def test_a_new_state_is_migrated_to_the_head_with_its_own_version_table(
    database_url: str, tmp_path: Path
) -> None:
    inventory = make_engine(database_url)
    migrate(inventory)  # the indexer's history first, as in production
    state = open_shared_state(database_url, tmp_path / "state.sqlite3")
    try:
        engine = (
            state.engine
            if isinstance(state, PostgresSharedState)
            else create_engine(f"sqlite:///{tmp_path / 'state.sqlite3'}")
        )
        assert current_revision(engine) == heads()
        tables = set(inspect(engine).get_table_names())
        assert VERSION_TABLE in tables
        assert tables >= STATE_TABLES
        with state.transaction() as tx:
            tx.execute(
                "INSERT INTO rate_buckets (key, tokens, updated) VALUES (?, ?, ?)", ("k", 1, 2)
            )
        require_at_head(inventory)  # the indexer's version is untouched
    finally:
        state.close()
        inventory.dispose()


def test_a_state_file_made_before_migrations_keeps_its_rows_and_is_stamped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE siwe_nonces (nonce TEXT PRIMARY KEY, expires_at REAL NOT NULL, "
        "used INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE rate_buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, "
        "updated REAL NOT NULL);"
        "INSERT INTO siwe_nonces VALUES ('abc', 1e12, 0);"
    )
    old.commit()
    old.close()
    state = SharedState(path)
    try:
        assert state.query("SELECT nonce FROM siwe_nonces") == [("abc",)]
        assert current_revision(create_engine(f"sqlite:///{path}")) == heads()
    finally:
        state.close()


def test_workers_starting_together_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "together.sqlite3"
    errors: list[BaseException] = []
    opened: list[SharedState] = []

    def start() -> None:
        try:
            opened.append(SharedState(path))
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current_revision(create_engine(f"sqlite:///{path}")) == heads()
    for state in opened:
        state.close()
