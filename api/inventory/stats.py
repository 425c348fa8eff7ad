"""Totals of the inventory: GPUs, verified and online capacity, by vendor, model and region."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from api.inventory._tables import GPU_SOURCE, G, L, P
from api.inventory.predicates import online_sql, verified_sql
from api.inventory.snapshot import snapshot
from indexer.models import Gpu


def capacity_history(session: Session, epochs: int) -> dict[str, Any]:
    """The last ``epochs`` epochs up to the latest record, oldest first: GPUs and verified GOPS
    online in each recorded one; an epoch between records that has none is marked missing."""
    known = snapshot(session)
    points: list[dict[str, Any]] = []
    if known.epoch is not None:
        first = known.epoch - epochs + 1
        rows = session.execute(
            select(
                L.epoch,
                L.block_number,
                L.block_time,
                L.online_count,
                L.available_count,
                L.healthy_count,
                L.online_gops,
            )
            .where(L.epoch >= first)
            .order_by(L.epoch, L.block_number)
        ).all()
        by_epoch = {int(r.epoch): r for r in rows}
        earlier = session.execute(select(L.epoch).where(L.epoch < first).limit(1)).first()
        # before the first record ever there is nothing to miss
        oldest = first if earlier is not None else min(by_epoch, default=known.epoch)
        for epoch in range(max(first, oldest), known.epoch + 1):
            r = by_epoch.get(epoch)
            points.append(_point(epoch, r))
    return {"points": points, "liveness": known.liveness(), "as_of_block": known.block}


def _point(epoch: int, r: Any) -> dict[str, Any]:
    if r is None:
        return {
            "epoch": epoch,
            "missing": True,
            "block_number": None,
            "block_time": None,
            "online_gpus": None,
            "available_gpus": None,
            "healthy_gpus": None,
            "online_throughput": None,
        }
    return {
        "epoch": epoch,
        "missing": False,
        "block_number": int(r.block_number),
        "block_time": _int(r.block_time),
        "online_gpus": int(r.online_count),
        "available_gpus": _int(r.available_count),
        "healthy_gpus": _int(r.healthy_count),
        "online_throughput": _int(r.online_gops),
    }


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def stats(session: Session, window: int) -> dict[str, Any]:
    """Totals; the online ones are None while liveness lags (unknown, not zero)."""
    now = int(time.time())
    known = snapshot(session)
    block, epoch, fresh = known.block, known.epoch, known.fresh

    def told(value: Any) -> int | None:
        return int(value or 0) if fresh else None

    verified = verified_sql(now)
    online = online_sql(epoch, window)

    def grouped(column: Any) -> list[dict[str, Any]]:
        rows = session.execute(
            select(
                column.label("key"),
                func.count().label("gpus"),
                func.sum(_case(verified, 1)).label("verified"),
                func.sum(_case(and_(verified, online), 1)).label("online"),
                func.sum(_case(verified, G.throughput_gops)).label("throughput"),
                func.sum(_case(and_(verified, online), G.throughput_gops)).label(
                    "online_throughput"
                ),
            )
            .select_from(GPU_SOURCE)
            .group_by(column)
            .order_by(column)
        ).all()
        return [
            {
                "key": r.key if r.key is not None else "",
                "gpus": int(r.gpus),
                "verified_gpus": int(r.verified or 0),
                "online_gpus": told(r.online),
                "verified_throughput": int(r.throughput or 0),
                "online_throughput": told(r.online_throughput),
            }
            for r in rows
        ]

    totals = session.execute(
        select(
            func.count(),
            func.sum(_case(verified, 1)),
            func.sum(_case(and_(verified, online), 1)),
            func.sum(_case(verified, G.throughput_gops)),
            func.sum(_case(and_(verified, online), G.throughput_gops)),
            func.sum(_case(and_(verified, online), G.memory_bytes)),
        ).select_from(Gpu.__table__)
    ).one()
    providers = session.execute(select(P.status, func.count()).group_by(P.status)).all()
    by_status = {str(s): int(n) for s, n in providers}
    return {
        "providers": sum(by_status.values()),
        "active_providers": by_status.get("active", 0),
        "gpus": int(totals[0]),
        "verified_gpus": int(totals[1] or 0),
        "online_gpus": told(totals[2]),
        "verified_throughput": int(totals[3] or 0),
        "online_throughput": told(totals[4]),
        "online_memory": told(totals[5]),
        "latest_epoch": epoch,
        "liveness": known.liveness(),
        "by_vendor": grouped(G.vendor),
        "by_model": grouped(G.model),
        "by_region": grouped(P.region),
        "as_of_block": block,
    }


def _case(condition: Any, value: Any) -> Any:
    return case((condition, value), else_=0)
