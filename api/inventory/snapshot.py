"""What the indexer last committed: the block, the liveness epoch, the changes feed's end and
the chain's clock (the indexed block's epoch)."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.capabilities import DOCUMENTS, GENERATION
from api.inventory._tables import CH, CP, L
from api.inventory.predicates import is_fresh


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
    #: the epoch of the indexed block's timestamp (None before the indexer knows the epoch
    #: length or the block's time); liveness is told only when ``epoch`` is close to it
    current_epoch: int | None = None
    #: the AttestationOracle's epoch length in seconds
    epoch_length: int | None = None
    #: the last liveness record (block, log index; -1 before any): it moves the liveness
    #: columns of every GPU it saw
    liveness_mark: tuple[int, int] = (-1, -1)
    #: how many capability documents the API has stored, and the newest one's ``stored_at``
    #: (-1 unknown): a document's arrival changes what the capability filters match
    documents_mark: tuple[int, int] = (-1, -1)

    @property
    def fresh(self) -> bool:
        """Whether the last liveness record is recent enough to tell who is online."""
        return is_fresh(self.epoch, self.current_epoch)

    def liveness(self) -> dict[str, Any]:
        """The ``liveness`` block of an answer: how recent what it says about liveness is."""
        return {
            "last_epoch": self.epoch,
            "current_epoch": self.current_epoch,
            "fresh": self.fresh,
        }


def _optional(value: Any) -> int | None:
    return int(value) if value is not None else None


_LAST_RECORD = select(L.block_number, L.log_index).order_by(
    L.block_number.desc(), L.log_index.desc()
)
_NEWEST_STORED = select(func.max(DOCUMENTS.c.stored_at)).scalar_subquery()
_SNAPSHOT = select(
    select(CP.indexed_block).where(CP.id == 1).scalar_subquery(),
    select(func.max(L.epoch)).scalar_subquery(),
    select(func.max(CH.id)).scalar_subquery(),
    select(CP.indexed_time).where(CP.id == 1).scalar_subquery(),
    select(CP.epoch_length).where(CP.id == 1).scalar_subquery(),
    _LAST_RECORD.with_only_columns(L.block_number).limit(1).scalar_subquery(),
    _LAST_RECORD.with_only_columns(L.log_index).limit(1).scalar_subquery(),
)
_WITH_DOCUMENTS = _SNAPSHOT.add_columns(
    select(GENERATION.c.value).where(GENERATION.c.id == 1).scalar_subquery(), _NEWEST_STORED
)


def snapshot(session: Session, *, documents: bool = False) -> Snapshot:
    """(indexed block, latest liveness epoch, last change, the chain's epoch, the last
    liveness record) in one round trip; with ``documents``, also the mark of the newest
    capability documents (the API's state, which ``session`` must see:
    :func:`api.capabilities.attach_state`)."""
    row = session.execute(_WITH_DOCUMENTS if documents else _SNAPSHOT).one()
    indexed_time, length = _optional(row[3]), _optional(row[4])
    current = indexed_time // length if indexed_time is not None and length else None
    return Snapshot(
        int(row[0] or 0),
        _optional(row[1]),
        int(row[2] or 0),
        current,
        length or None,
        (_mark(row[5]), _mark(row[6])),
        (_mark(row[7]), _mark(row[8])) if documents else (-1, -1),
    )


def _mark(value: Any) -> int:
    return int(value) if value is not None else -1


def latest_epoch(session: Session) -> int | None:
    value = session.execute(select(func.max(L.epoch))).scalar_one_or_none()
    return int(value) if value is not None else None
