"""What the revisions under ``versions/`` repeat: a table written as its columns' specs.

A spec is ``"name kind"`` and flags, specs parted by commas: kinds ``text``, ``float``, ``int``,
``bigint`` and ``serial`` (an autoincrementing BIGINT, SQLite's rowid INTEGER); ``?`` after the
kind makes a column nullable (without it, NOT NULL); ``key``: the primary key; ``unique``;
``=V``: the server default ``V``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

_KINDS: dict[str, sa.types.TypeEngine[Any]] = {
    "text": sa.Text(),
    "float": sa.Float(),
    "int": sa.Integer(),
    "bigint": sa.BigInteger(),
    "serial": sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
}


def column(spec: str) -> sa.Column[Any]:
    """One column from its spec (``"expires_at float?"``, ``"id text key"``)."""
    name, kind, *flags = spec.split()
    options: dict[str, Any] = {}
    if "key" in flags:
        options["primary_key"] = True
    else:
        options["nullable"] = kind.endswith("?")
    if kind.startswith("serial"):
        options["autoincrement"] = True
    if "unique" in flags:
        options["unique"] = True
    for flag in flags:
        if flag.startswith("="):
            options["server_default"] = flag[1:]
    return sa.Column(name, _KINDS[kind.rstrip("?")], **options)


def create_table(
    name: str,
    *items: str | sa.schema.SchemaItem,
    indexes: Mapping[str, Sequence[str]] | None = None,
    **options: Any,
) -> None:
    """Creates table ``name`` of the columns the specs in ``items`` name (the other items, such as
    constraints, as they are), then its ``indexes`` (index name: its columns)."""
    columns: list[Any] = []
    for item in items:
        if isinstance(item, str):
            columns += [column(spec) for spec in item.split(",")]
        else:
            columns.append(item)
    op.create_table(name, *columns, **options)
    for index, on in (indexes or {}).items():
        op.create_index(index, name, list(on))
