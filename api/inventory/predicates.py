"""What "online", "available", "healthy" and "verified" mean, once for SQL and once for Python.

Liveness is only told when it is recent: when the last recorded epoch lags the chain's clock by
more than :data:`MAX_LIVENESS_LAG` epochs, online, available and healthy are unknown (``None``
in Python; a filter on them matches nothing).

The SQL builders take the columns they compare as arguments (defaulting to the GPU table's), so
a caller can pass a column wrapped to steer the planner and still get the same predicate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

from api.inventory._tables import G

#: the most epochs the last liveness record may lag the chain's clock and still be told
MAX_LIVENESS_LAG = 2


def is_fresh(last_epoch: int | None, current_epoch: int | None) -> bool:
    """Whether the last recorded epoch is recent enough for liveness to be told at all."""
    return (
        last_epoch is not None
        and current_epoch is not None
        and current_epoch - last_epoch <= MAX_LIVENESS_LAG
    )


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


# --------------------------------------------------------------------------- availability, health


def available_sql(
    value: bool,
    epoch: int | None,
    window: int,
    *,
    last_seen: Any = G.last_seen_epoch,
    available: Any = G.available,
) -> ColumnElement[bool]:
    """Online and free (``value``), or offline or busy (not ``value``)."""
    if value:
        return and_(online_sql(epoch, window, last_seen=last_seen), available.is_(True))
    return or_(offline_sql(epoch, window, last_seen=last_seen), available.is_(False))


def healthy_sql(
    value: bool,
    epoch: int | None,
    window: int,
    *,
    last_seen: Any = G.last_seen_epoch,
    healthy: Any = G.healthy,
) -> ColumnElement[bool]:
    """Online and reported healthy (``value``) or unhealthy; an offline GPU's health is
    unknown and matches neither."""
    return and_(online_sql(epoch, window, last_seen=last_seen), healthy.is_(value))


def unknown_sql() -> ColumnElement[bool]:
    """What a liveness filter matches while liveness is unknown: nothing."""
    return false()


def liveness_of(
    last_seen_epoch: int | None,
    available: bool | None,
    healthy: bool | None,
    epoch: int | None,
    window: int,
    fresh: bool,
) -> tuple[bool | None, bool | None, bool | None]:
    """(online, available, healthy) for one row, as the SQL builders above decide them."""
    if not fresh:
        return None, None, None
    if not is_online(last_seen_epoch, epoch, window):
        return False, False, None
    return (
        True,
        bool(available) if available is not None else None,
        bool(healthy) if healthy is not None else None,
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
