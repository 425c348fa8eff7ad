"""What "online" and "verified" mean, once for SQL and once for Python, side by side.

The SQL builders take the columns they compare as arguments (defaulting to the GPU table's), so
a caller can pass a column wrapped to steer the planner and still get the same predicate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from api.inventory._tables import G


def _first_online_epoch(epoch: int, window: int) -> int:
    """The oldest epoch in which a GPU seen counts as online at ``epoch``."""
    return epoch - window + 1


# --------------------------------------------------------------------------- online


def online_sql(
    epoch: int | None, window: int, *, last_seen: Any = G.last_seen_epoch
) -> ColumnElement[bool]:
    """GPUs seen in one of the ``window`` liveness epochs up to ``epoch``."""
    if epoch is None:
        return G.gpu_key.is_(None)  # nothing is online before any liveness record
    return last_seen >= _first_online_epoch(epoch, window)  # type: ignore[no-any-return]


def offline_sql(
    epoch: int | None, window: int, *, last_seen: Any = G.last_seen_epoch
) -> ColumnElement[bool]:
    """The complement of :func:`online_sql`, GPUs never seen included (SQL's NULL is neither)."""
    return or_(last_seen.is_(None), ~online_sql(epoch, window, last_seen=last_seen))


def is_online(last_seen_epoch: int | None, epoch: int | None, window: int) -> bool:
    """:func:`online_sql` for one row."""
    return (
        last_seen_epoch is not None
        and epoch is not None
        and last_seen_epoch >= _first_online_epoch(epoch, window)
    )


# --------------------------------------------------------------------------- verified


def verified_sql(
    now: int, *, revoked: Any = G.revoked, expires_at: Any = G.expires_at
) -> ColumnElement[bool]:
    """GPUs whose attestation is neither revoked nor expired at ``now``."""
    return and_(revoked.is_(False), expires_at > now)


def is_verified(revoked: Any, expires_at: Any, now: int) -> bool:
    """:func:`verified_sql` for one row."""
    return (not revoked) and int(expires_at) > now
