"""The API's own state is under Alembic migrations of its own (``alembic_version_api``), run when
the state opens, on SQLite and PostgreSQL, beside the indexer's migrations."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect

from api.capabilities import store_document
from api.migrate import VERSION_TABLE, current_revision, heads
from api.shared import PostgresSharedState, SharedState, open_shared_state
from depin.capabilities import CapabilityDocument, GpuCapabilities, HostCapabilities
from indexer.db import make_engine, migrate, require_at_head

#: the tables of the shared state every worker uses
STATE_TABLES = {"siwe_nonces", "rate_buckets"}


def opened_at_head(path: Path, sql: str) -> list[Any]:
    """Opens the SQLite state at ``path`` (which migrates it), checks that it is at the head,
    and answers ``sql`` on it."""
    state = SharedState(path)
    try:
        rows = state.query(sql)
        assert current_revision(create_engine(f"sqlite:///{path}")) == heads()
        return rows
    finally:
        state.close()


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
    assert opened_at_head(path, "SELECT nonce FROM siwe_nonces") == [("abc",)]


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


def _state_at_0005(path: Path, script: str) -> None:
    """A state file at revision 0005 with ``script``'s tables besides."""
    from api.migrate import migrate_sqlite_file

    migrate_sqlite_file(path, "0005")
    db = sqlite3.connect(path)
    db.executescript(script)
    db.commit()
    db.close()


def _capability_schema(path: Path) -> tuple[set[str], set[str]]:
    found = inspect(create_engine(f"sqlite:///{path}"))
    return set(found.get_table_names()), {
        str(i["name"]) for i in found.get_indexes("capability_facets")
    }


def test_a_state_whose_capability_tables_were_made_at_start_up_reaches_the_head(
    tmp_path: Path,
) -> None:
    from api.capabilities import FACETS

    path = tmp_path / "early.sqlite3"
    _state_at_0005(path, "")
    early = create_engine(f"sqlite:///{path}").execution_options(
        schema_translate_map={"api_state": None}
    )
    FACETS.metadata.create_all(early)  # as the API's start-up made them at 7317aea
    with early.begin() as conn:
        conn.exec_driver_sql("INSERT INTO capability_documents VALUES ('0xab', '{}', 1)")
    early.dispose()
    rows = opened_at_head(path, "SELECT document_hash FROM capability_documents")
    assert rows == [("0xab",)]


def test_a_state_left_part_way_through_the_capability_revision_gets_the_rest(
    tmp_path: Path,
) -> None:
    from api.capabilities import FACETS

    path = tmp_path / "partial.sqlite3"
    _state_at_0005(
        path,
        "CREATE TABLE capability_documents (document_hash VARCHAR(66) PRIMARY KEY, "
        "body TEXT NOT NULL, stored_at BIGINT NOT NULL);",
    )
    SharedState(path).close()
    tables, indexes = _capability_schema(path)
    assert {"capability_documents", "capability_facets"} <= tables
    assert indexes == {str(index.name) for index in FACETS.indexes}
    assert current_revision(create_engine(f"sqlite:///{path}")) == heads()


def test_documents_stored_before_the_generation_counter_are_counted_by_it(
    tmp_path: Path,
) -> None:
    """Revision 0008 starts ``capability_generation`` at the number of documents already
    stored, and each document stored after it adds one."""
    from api.migrate import migrate_sqlite_file

    path = tmp_path / "documents.sqlite3"
    migrate_sqlite_file(path, "0007")
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for key in ("0x01", "0x02"):
            conn.exec_driver_sql(f"INSERT INTO capability_documents VALUES ('{key}', '{{}}', 1)")
    engine.dispose()
    assert opened_at_head(path, "SELECT id, value FROM capability_generation") == [(1, 2)]
    indexes = {
        str(i["name"])
        for i in inspect(create_engine(f"sqlite:///{path}")).get_indexes("capability_documents")
    }
    assert "ix_capability_documents_stored_at" in indexes
    document = CapabilityDocument(
        host=HostCapabilities(),
        gpus=[
            GpuCapabilities(
                slot="0000:01:00.0", gpu_key="0x" + "ab" * 32, vendor="nvidia", model="x-y",
                memory_bytes=1,
            )
        ],
    )  # fmt: skip
    state = SharedState(path)
    assert store_document(state, document) and not store_document(state, document)
    state.close()
    assert opened_at_head(path, "SELECT id, value FROM capability_generation") == [(1, 3)]
