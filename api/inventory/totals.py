"""Totals of a filtered GPU list: exact up to :data:`EXACT_TOTAL_LIMIT` matching rows, an
estimate beyond it.

An exact ``count(*)`` of a broad filter reads every matching row (hundreds of milliseconds at a
million GPUs), and a filter nobody asked before cannot come from the cache. So the count stops
after ``EXACT_TOTAL_LIMIT + 1`` rows; when it reaches that, the total is estimated from a
uniform sample: GPU keys are hashes, so the GPUs whose key falls in the lowest slice of the key
space (about :data:`SAMPLE_ROWS` of them, read through the primary key) are a random sample,
and the share of them matching the filters times the number of GPUs is the estimate (never
below ``EXACT_TOTAL_LIMIT + 1``). The same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.orm import Session

from api.inventory._tables import GPU_SOURCE, G
from api.inventory.lru import LruCache
from indexer.models import Gpu

#: matching rows counted exactly; beyond this the total is an estimate
EXACT_TOTAL_LIMIT = 1_000
#: about how many GPUs the estimate's sample reads
SAMPLE_ROWS = 2_000
_KEY_SPACE = 16**64


@dataclass(frozen=True)
class Total:
    value: int
    exact: bool


def gpu_total(
    session: Session,
    where: list[Any],
    *,
    join_providers: bool,
    counts: LruCache,
    change: Any,
    limit: int = EXACT_TOTAL_LIMIT,
    sample_where: list[Any] | None = None,
    found: int | None = None,
    sampled: tuple[int, int] | None = None,
) -> Total:
    """How many GPUs match ``where``: exact up to ``limit``, else estimated (see the module).
    ``sample_where`` is the same filter for the sample when ``where`` joins another table
    into the count (the sample counts GPU rows alone); ``found`` and ``sampled`` (GPUs read,
    GPUs matching), the capped count and the sample when the caller has read them."""
    if not where:
        return Total(all_rows(session, counts, change), True)
    if found is None:
        found = int(session.execute(capped_count(where, join_providers, limit)).scalar_one())
    if found <= limit:
        return Total(found, True)
    rows = all_rows(session, counts, change)
    if sampled is None:
        sample = sample_count(sample_where or where, join_providers, rows)
        sampled = session.execute(sample).one()
    read, matched = sampled
    estimate = round(int(matched) * rows / int(read)) if read else 0
    return Total(min(max(estimate, limit + 1), max(rows, limit + 1)), False)


def capped_count(where: list[Any], join_providers: bool, limit: int) -> Select[Any]:
    """How many GPUs match ``where``, counting no further than ``limit + 1``."""
    source = GPU_SOURCE if join_providers else Gpu.__table__
    capped = select(literal(1)).select_from(source).where(*where).limit(limit + 1).subquery()
    return select(func.count()).select_from(capped)


def sample_count(where: list[Any], join_providers: bool, rows: int) -> Select[int, int]:
    """(GPUs read, GPUs matching ``where``) among the ~:data:`SAMPLE_ROWS` of ``rows`` GPUs
    whose keys are lowest, read through the primary key."""
    source = GPU_SOURCE if join_providers else Gpu.__table__
    sample = select(func.count(), func.count(case((and_(*where), 1)))).select_from(source)
    if rows <= SAMPLE_ROWS:
        return sample
    return sample.where(G.gpu_key < sample_bound(rows))


def sample_bound(rows: int) -> str:
    """The key below which about :data:`SAMPLE_ROWS` of ``rows`` GPUs fall."""
    return "0x" + format(_KEY_SPACE * SAMPLE_ROWS // rows, "064x")


def all_rows(session: Session, counts: LruCache, change: Any) -> int:
    """The number of GPUs, counted once per inventory change."""
    key = ("gpus:rows", change)
    rows = counts.get(key)
    if rows is None:
        rows = int(session.execute(select(func.count()).select_from(Gpu.__table__)).scalar_one())
        counts.put(key, rows)
    return int(rows)
