"""What the indexer last committed: the block, the liveness epoch and the changes feed's end."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.inventory._tables import CH, CP, L


def indexed_block(session: Session) -> int | None:
    """The last block the indexer committed, or None before its first commit."""
    value = session.execute(select(CP.indexed_block).where(CP.id == 1)).scalar_one_or_none()
    return int(value) if value is not None else None


def as_of(session: Session) -> int:
    return indexed_block(session) or 0


class Snapshot(NamedTuple):
    """What the indexer last committed: every inventory read depends on it."""

    block: int
    epoch: int | None
    #: the last row of the changes feed; it moves with every change to a provider or a GPU
    #: (and with every reorg), so a total counted at one value holds until it moves
    change: int


def snapshot(session: Session) -> Snapshot:
    """(indexed block, latest liveness epoch, last change) in one round trip."""
    row = session.execute(
        select(
            select(CP.indexed_block).where(CP.id == 1).scalar_subquery(),
            select(func.max(L.epoch)).scalar_subquery(),
            select(func.max(CH.id)).scalar_subquery(),
        )
    ).one()
    return Snapshot(int(row[0] or 0), int(row[1]) if row[1] is not None else None, int(row[2] or 0))


def latest_epoch(session: Session) -> int | None:
    value = session.execute(select(func.max(L.epoch))).scalar_one_or_none()
    return int(value) if value is not None else None
