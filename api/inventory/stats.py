"""Totals of the inventory: GPUs, verified and online capacity, by vendor, model and region."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from api.inventory._tables import GPU_SOURCE, G, L, P
from api.inventory.predicates import online_sql, verified_sql
from api.inventory.snapshot import as_of, latest_epoch
from indexer.models import Gpu


def capacity_history(session: Session, epochs: int) -> dict[str, Any]:
    """The last ``epochs`` liveness records, oldest first: GPUs and verified GOPS online."""
    block = as_of(session)
    rows = session.execute(
        select(L.epoch, L.block_number, L.block_time, L.online_count, L.online_gops)
        .order_by(L.epoch.desc(), L.block_number.desc())
        .limit(epochs)
    ).all()
    points = [
        {
            "epoch": int(r.epoch),
            "block_number": int(r.block_number),
            "block_time": int(r.block_time) if r.block_time is not None else None,
            "online_gpus": int(r.online_count),
            "online_throughput": int(r.online_gops) if r.online_gops is not None else None,
        }
        for r in reversed(rows)
    ]
    return {"points": points, "as_of_block": block}


def stats(session: Session, window: int) -> dict[str, Any]:
    now = int(time.time())
    block = as_of(session)
    epoch = latest_epoch(session)
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
                "online_gpus": int(r.online or 0),
                "verified_throughput": int(r.throughput or 0),
                "online_throughput": int(r.online_throughput or 0),
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
        "online_gpus": int(totals[2] or 0),
        "verified_throughput": int(totals[3] or 0),
        "online_throughput": int(totals[4] or 0),
        "online_memory": int(totals[5] or 0),
        "latest_epoch": epoch,
        "by_vendor": grouped(G.vendor),
        "by_model": grouped(G.model),
        "by_region": grouped(P.region),
        "as_of_block": block,
    }


def _case(condition: Any, value: Any) -> Any:
    return case((condition, value), else_=0)
