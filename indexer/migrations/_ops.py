"""What the revisions under ``versions/`` repeat: the column kinds of the inventory, and adding or
dropping columns and indexes of one table in one batch (SQLite rewrites a table for a batch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import conv

Index = tuple[str, Sequence[str]]


def json_type() -> sa.types.TypeEngine[Any]:
    """JSON, stored as JSONB on PostgreSQL."""
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def serial_id() -> sa.Column[Any]:
    """An autoincrementing ``id`` (a BIGINT on PostgreSQL, SQLite's rowid INTEGER)."""
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def indexed(table: str, column: str) -> Index:
    """The index the models' naming convention gives one column: ``ix_<table>_<column>``."""
    return conv(f"ix_{table}_{column}"), [column]


def create_indexes(table: str, *indexes: Index, unique: bool = False) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name, columns in indexes:
            batch_op.create_index(name, list(columns), unique=unique)


def drop_indexes(table: str, *names: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name in names:
            batch_op.drop_index(name)


def add_columns(table: str, *columns: sa.Column[Any]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.add_column(column)


def drop_columns(table: str, *names: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name in names:
            batch_op.drop_column(name)
