"""The inventory changes feed: rows of :class:`~indexer.models.Change` after a given id.

An API streams them as server-sent events: remember the last id sent (the SSE ``id:``), poll
:func:`changes_since` with it, and on reconnect resume from ``Last-Event-ID``.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from indexer.models import Change


def changes_since(session: Session, after_id: int = 0, limit: int = 500) -> list[Change]:
    """Changes with ``id > after_id``, oldest first, at most ``limit``."""
    query = select(Change).where(Change.id > after_id).order_by(Change.id).limit(limit)
    return list(session.scalars(query))


def latest_change_id(session: Session) -> int:
    """The newest change id (0 if none): where a new subscriber starts."""
    return int(session.scalar(select(func.max(Change.id))) or 0)
