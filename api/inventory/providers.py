"""Provider reads: the keyset page with GPU counts, and one provider with its agents and uptime."""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from api.inventory._tables import A, G, L, P
from api.inventory.cursor import Page, decode_cursor, encode_cursor, keyset, order
from api.inventory.gpus import GPU_COLUMNS
from api.inventory.lru import LruCache
from api.inventory.shaping import gpu_item, provider_item
from api.inventory.snapshot import as_of, snapshot
from api.inventory.uptime import Uptimes
from indexer.models import Agent, Provider

#: sort name -> (column, descending)
PROVIDER_SORTS: dict[str, tuple[Any, bool]] = {
    "address": (P.address, False),
    "-address": (P.address, True),
    "registered_block": (P.registered_block, False),
    "-registered_block": (P.registered_block, True),
    "name": (P.name, False),
    "-name": (P.name, True),
}


def list_providers(
    session: Session,
    *,
    status: str | None,
    region: str | None,
    sort: str,
    limit: int,
    cursor: str | None,
    counts: LruCache,
) -> Page:
    block = as_of(session)
    column, descending = PROVIDER_SORTS[sort]
    where: list[ColumnElement[bool]] = []
    if status is not None:
        where.append(P.status == status)
    if region is not None:
        where.append(P.region == region)
    page_where = list(where)
    if cursor is not None:
        value, key = decode_cursor(cursor, sort)
        page_where.append(keyset(column, P.address, descending, value, key))
    rows = session.execute(
        select(Provider.__table__)
        .where(*page_where)
        .order_by(*order(column, P.address, descending))
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    gpu_counts: dict[str, int] = {}
    if rows:
        gpu_counts = {
            str(p): int(n)
            for p, n in session.execute(
                select(G.provider, func.count())
                .where(G.provider.in_([r.address for r in rows]))
                .group_by(G.provider)
            ).all()
        }
    items = [{**provider_item(r), "gpu_count": gpu_counts.get(r.address, 0)} for r in rows]
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(sort, getattr(rows[-1], column.key), rows[-1].address)
    count_key: Hashable = ("providers", status, region, block)
    total = counts.get(count_key)
    if total is None:
        total = int(
            session.execute(
                select(func.count()).select_from(Provider.__table__).where(*where)
            ).scalar_one()
        )
        counts.put(count_key, total)
    return Page(items, next_cursor, total, block)


def get_provider(
    session: Session,
    address: str,
    *,
    window: int,
    uptime_epochs: int,
    gpu_limit: int,
    uptimes: Uptimes | None = None,
) -> tuple[dict[str, Any] | None, int]:
    now = int(time.time())
    known = snapshot(session)
    block = known.block
    row = session.execute(select(Provider.__table__).where(P.address == address)).first()
    if row is None:
        return None, block
    agents = [
        {
            "agent": a.agent,
            "expires_at": int(a.expires_at),
            "revoked": bool(a.revoked),
            "authorized": (not a.revoked) and int(a.expires_at) > now and row.status == "active",
            "authorized_block": int(a.authorized_block),
        }
        for a in session.execute(
            select(Agent.__table__).where(A.provider == address).order_by(A.authorized_block)
        ).all()
    ]
    gpu_rows = session.execute(
        select(*GPU_COLUMNS)
        .where(G.provider == address)
        .order_by(G.throughput_gops.desc(), G.gpu_key.desc())
        .limit(gpu_limit)
    ).all()
    ups = (
        uptimes.of(
            session, known, [(int(g.gpu_index), int(g.first_attested_block)) for g in gpu_rows]
        )
        if uptimes is not None
        else [None] * len(gpu_rows)
    )
    gpus = [
        gpu_item(g, row.region, known.epoch, window, now, fresh=known.fresh, uptime=up)
        for g, up in zip(gpu_rows, ups, strict=True)
    ]
    gpu_total = int(session.execute(select(func.count()).where(G.provider == address)).scalar_one())
    indexes = {
        int(i)
        for (i,) in session.execute(
            select(G.gpu_index).where(G.provider == address, G.gpu_index.is_not(None))
        ).all()
    }
    uptime = _uptime(session, indexes, uptime_epochs)
    return {
        **provider_item(row),
        "agents": agents,
        "gpus": gpus,
        "gpu_count": gpu_total,
        "uptime": uptime,
    }, block


def _uptime(session: Session, indexes: set[int], epochs: int) -> dict[str, Any]:
    """Share of (GPU, epoch) pairs seen online over the last ``epochs`` recorded epochs."""
    rows = session.execute(
        select(L.epoch, L.gpu_indexes).order_by(L.epoch.desc(), L.block_number.desc()).limit(epochs)
    ).all()
    by_epoch: dict[int, set[int]] = {}
    for epoch, seen in rows:
        by_epoch.setdefault(int(epoch), set()).update(int(i) for i in (seen or []))
    if not indexes or not by_epoch:
        return {"epochs": len(by_epoch), "ratio": None}
    hits = sum(len(indexes & seen) for seen in by_epoch.values())
    return {"epochs": len(by_epoch), "ratio": hits / (len(indexes) * len(by_epoch))}
