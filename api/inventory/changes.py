"""The changes feed: every change to a provider or a GPU, in the order the indexer wrote it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.inventory._tables import CH


def changes_after(session: Session, after: int, limit: int) -> Sequence[Any]:
    return session.execute(
        select(CH.id, CH.block_number, CH.log_index, CH.kind, CH.subject, CH.data)
        .where(CH.id > after)
        .order_by(CH.id)
        .limit(limit)
    ).all()


def last_change_id(session: Session) -> int:
    value = session.execute(select(func.max(CH.id))).scalar_one_or_none()
    return int(value or 0)
