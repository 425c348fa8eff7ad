"""The indexer: mirrors contract events into the SQL inventory the API serves.

Public surface for readers of the inventory (the API):

- :mod:`indexer.models` — SQLAlchemy 2 models (``Provider``, ``Agent``, ``Gpu``,
  ``Attestation``, ``LivenessEpoch``, ``OracleConfig``, ``Change``, ``Checkpoint``, ...);
- :func:`make_engine`, :func:`session_factory` — engine (SQLite WAL or PostgreSQL) and sessions;
- :func:`is_at_head` / :func:`require_at_head` / :func:`migrate` — schema migrations;
- :class:`IndexerSettings` — ``DEPIN_INDEXER_*`` settings (``database_url``);
- :func:`changes_since` — the inventory changes feed.
"""

from __future__ import annotations

from indexer.db import is_at_head, make_engine, migrate, require_at_head, session_factory
from indexer.errors import DeepReorgError, IndexerError
from indexer.feed import changes_since, latest_change_id
from indexer.settings import IndexerSettings

__all__ = [
    "DeepReorgError",
    "IndexerError",
    "IndexerSettings",
    "changes_since",
    "is_at_head",
    "latest_change_id",
    "make_engine",
    "migrate",
    "require_at_head",
    "session_factory",
]
