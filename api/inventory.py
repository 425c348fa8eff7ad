"""Queries on the indexer's inventory (its SQLAlchemy models)."""

from __future__ import annotations

from sqlalchemy.orm import Session


def indexed_block(session: Session) -> int | None:
    """The last block the indexer committed, or None before its first commit."""
    return None
