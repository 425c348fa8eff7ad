"""Read queries on the indexer's inventory (its SQLAlchemy models, Core statements).

Every answer carries ``as_of_block``, the indexer's checkpoint read in the same read transaction
as the data (SQLite: an explicit ``BEGIN`` snapshot in WAL mode; PostgreSQL: a REPEATABLE READ
read-only transaction).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select, tuple_
from sqlalchemy.orm import Session

from api.errors import InvalidFilterError
from depin.simulation import is_simulated
from indexer.models import (
    Agent,
    Attestation,
    Change,
    Checkpoint,
    Gpu,
    LivenessEpoch,
    Provider,
)

G = Gpu.__table__.c
P = Provider.__table__.c
A = Agent.__table__.c
AT = Attestation.__table__.c
L = LivenessEpoch.__table__.c
CH = Change.__table__.c
CP = Checkpoint.__table__.c

#: sort name -> (column, descending)
GPU_SORTS: dict[str, tuple[Any, bool]] = {
    "gpu_key": (G.gpu_key, False),
    "-gpu_key": (G.gpu_key, True),
    "memory": (G.memory_bytes, False),
    "-memory": (G.memory_bytes, True),
    "throughput": (G.throughput_gops, False),
    "-throughput": (G.throughput_gops, True),
    "measured_at": (G.measured_at, False),
    "-measured_at": (G.measured_at, True),
}
#: sort columns with a (vendor, column, gpu_key) index (the indexer's schema)
VENDOR_LED_SORTS = (G.throughput_gops, G.memory_bytes)
PROVIDER_SORTS: dict[str, tuple[Any, bool]] = {
    "address": (P.address, False),
    "-address": (P.address, True),
    "registered_block": (P.registered_block, False),
    "-registered_block": (P.registered_block, True),
    "name": (P.name, False),
    "-name": (P.name, True),
}


# --------------------------------------------------------------------------- snapshot facts


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


# --------------------------------------------------------------------------- cursors


def encode_cursor(sort: str, value: Any, key: str) -> str:
    raw = json.dumps([sort, value, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, key = json.loads(raw)
    except Exception:
        raise InvalidFilterError("the cursor is not one this API issued") from None
    if cursor_sort != sort:
        raise InvalidFilterError(
            f"the cursor was issued for sort={cursor_sort!r}, not sort={sort!r}"
        )
    if not isinstance(key, str) or not isinstance(value, int | str) or isinstance(value, bool):
        raise InvalidFilterError("the cursor is not one this API issued")
    return value, key


def _keyset(column: Any, key_column: Any, descending: bool, value: Any, key: str) -> Any:
    if column is key_column:
        return key_column < key if descending else key_column > key
    if descending:
        return tuple_(column, key_column) < tuple_(value, key)
    return tuple_(column, key_column) > tuple_(value, key)


def _order(column: Any, key_column: Any, descending: bool) -> list[Any]:
    if column is key_column:
        return [key_column.desc() if descending else key_column.asc()]
    if descending:
        return [column.desc(), key_column.desc()]
    return [column.asc(), key_column.asc()]


# --------------------------------------------------------------------------- LRU cache


class LruCache:
    """A small thread-safe LRU: filtered totals and serialized pages, keyed by what they
    depend on (the filters, the indexed block, the latest epoch, the clock where it matters),
    so a value is recomputed only when the inventory or time changed it."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


# --------------------------------------------------------------------------- GPUs


@dataclass(frozen=True)
class GpuFilters:
    vendor: str | None = None
    model: str | None = None
    min_memory: int | None = None
    min_throughput: int | None = None
    region: str | None = None
    provider: str | None = None
    online: bool | None = None
    verified: bool | None = None
    online_epochs: int = 3


def _online_clause(epoch: int | None, window: int) -> ColumnElement[bool]:
    if epoch is None:
        return G.gpu_key.is_(None)  # nothing is online before any liveness record
    return G.last_seen_epoch >= epoch - window + 1


def _verified_clause(now: int) -> ColumnElement[bool]:
    return and_(G.revoked.is_(False), G.expires_at > now)


def _unindexed(column: Any, dialect: str) -> Any:
    """``column`` in a form no index matches (SQLite's unary ``+``), so the planner walks the
    sort order's index and stops after a page, instead of collecting every row of a broad
    filter (vendor, memory, liveness) through that filter's index and sorting them."""
    if dialect != "sqlite":
        return column
    return literal_column(f"+{column.table.name}.{column.name}", column.type)


def gpu_conditions(
    filters: GpuFilters,
    epoch: int | None,
    now: int,
    *,
    sort_column: Any = None,
    dialect: str = "",
) -> tuple[list[ColumnElement[bool]], bool]:
    """WHERE clauses for ``filters``, and whether they need the providers join.

    Broad filters are kept off their indexes on SQLite unless they are the sort column; the
    selective ones (provider, model, region) keep theirs.
    """

    def broad(column: Any) -> Any:
        if column is sort_column:
            return column
        if column is G.vendor and any(sort_column is c for c in VENDOR_LED_SORTS):
            return column  # (vendor, sort column, gpu_key) is one index
        return _unindexed(column, dialect)

    where: list[ColumnElement[bool]] = []
    if filters.vendor is not None:
        where.append(broad(G.vendor) == filters.vendor)
    if filters.model is not None:
        where.append(G.model == filters.model)
    if filters.min_memory is not None:
        where.append(broad(G.memory_bytes) >= filters.min_memory)
    if filters.min_throughput is not None:
        where.append(broad(G.throughput_gops) >= filters.min_throughput)
    if filters.provider is not None:
        where.append(G.provider == filters.provider)
    if filters.online is not None:
        seen = broad(G.last_seen_epoch)
        if epoch is None:
            online: ColumnElement[bool] = G.gpu_key.is_(None)  # nothing online before liveness
        else:
            online = seen >= epoch - filters.online_epochs + 1
        where.append(online if filters.online else or_(seen.is_(None), ~online))
    if filters.verified is not None:
        clause = and_(broad(G.revoked).is_(False), broad(G.expires_at) > now)
        where.append(clause if filters.verified else ~clause)
    needs_join = filters.region is not None
    if filters.region is not None:
        where.append(P.region == filters.region)
    return where, needs_join


GPU_COLUMNS = (
    G.gpu_key,
    G.provider,
    G.agent,
    G.gpu_index,
    G.vendor,
    G.vendor_id,
    G.model,
    G.memory_bytes,
    G.throughput_gops,
    G.fp32_gflops,
    G.fp16_gflops,
    G.memory_bandwidth_gbps,
    G.measured_at,
    G.expires_at,
    G.revoked,
    G.revoked_by_provider,
    G.last_seen_epoch,
    G.config_version,
    G.signers,
    G.attestation_tx,
    G.first_attested_block,
    G.attested_block,
)


def gpu_item(
    row: Any, region: str | None, epoch: int | None, window: int, now: int
) -> dict[str, Any]:
    seen = row.last_seen_epoch
    return {
        "gpu_key": row.gpu_key,
        "provider": row.provider,
        "agent": row.agent,
        "region": region,
        "gpu_index": int(row.gpu_index),
        "vendor": row.vendor,
        "vendor_id": int(row.vendor_id),
        "model": row.model,
        "simulated": is_simulated(row.model),
        "memory_bytes": int(row.memory_bytes),
        "throughput_gops": int(row.throughput_gops),
        "fp32_gflops": int(row.fp32_gflops),
        "fp16_gflops": int(row.fp16_gflops),
        "memory_bandwidth_gbps": int(row.memory_bandwidth_gbps),
        "measured_at": int(row.measured_at),
        "expires_at": int(row.expires_at),
        "revoked": bool(row.revoked),
        "revoked_by_provider": row.revoked_by_provider,
        "verified": (not row.revoked) and int(row.expires_at) > now,
        "online": seen is not None and epoch is not None and seen >= epoch - window + 1,
        "last_seen_epoch": seen,
        "config_version": int(row.config_version),
        "signers": list(row.signers or []),
        "attestation_tx": row.attestation_tx,
        "first_attested_block": int(row.first_attested_block),
        "attested_block": int(row.attested_block),
    }


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int
    as_of_block: int


GPU_SOURCE = Gpu.__table__.outerjoin(Provider.__table__, P.address == G.provider)


def gpu_page_statement(
    filters: GpuFilters,
    epoch: int | None,
    now: int,
    sort: str,
    limit: int,
    cursor: str | None,
    dialect: str,
) -> Select[Any]:
    """One keyset page (``limit`` + 1 rows, to know whether another follows)."""
    column, descending = GPU_SORTS[sort]
    where, _ = gpu_conditions(filters, epoch, now, sort_column=column, dialect=dialect)
    if cursor is not None:
        value, key = decode_cursor(cursor, sort)
        where.append(_keyset(column, G.gpu_key, descending, value, key))
    return (
        select(*GPU_COLUMNS, P.region)
        .select_from(GPU_SOURCE)
        .where(*where)
        .order_by(*_order(column, G.gpu_key, descending))
        .limit(limit + 1)
    )


def list_gpus(
    session: Session,
    filters: GpuFilters,
    *,
    sort: str,
    limit: int,
    cursor: str | None,
    counts: LruCache,
    known: Snapshot | None = None,
) -> Page:
    now = int(time.time())
    column, _ = GPU_SORTS[sort]
    block, epoch, change = snapshot(session) if known is None else known
    dialect = session.get_bind().dialect.name
    statement = gpu_page_statement(filters, epoch, now, sort, limit, cursor, dialect)
    rows = session.execute(statement).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [gpu_item(r, r.region, epoch, filters.online_epochs, now) for r in rows]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(sort, getattr(last, column.key), last.gpu_key)
    # Not the block: a total holds across commits that changed no provider and no GPU.
    count_key = (
        "gpus",
        filters,
        change,
        epoch,
        now if filters.verified is not None else None,
    )
    total = counts.get(count_key)
    if total is None:
        count_source = GPU_SOURCE if filters.region is not None else Gpu.__table__
        count_where, _ = gpu_conditions(filters, epoch, now)  # free to use every index
        total = int(
            session.execute(
                select(func.count()).select_from(count_source).where(*count_where)
            ).scalar_one()
        )
        counts.put(count_key, total)
    return Page(items, next_cursor, total, block)


def get_gpu(session: Session, gpu_key: str, window: int) -> tuple[dict[str, Any] | None, int]:
    now = int(time.time())
    block = as_of(session)
    epoch = latest_epoch(session)
    row = session.execute(
        select(*GPU_COLUMNS, P.region)
        .select_from(Gpu.__table__.outerjoin(Provider.__table__, P.address == G.provider))
        .where(G.gpu_key == gpu_key)
    ).first()
    if row is None:
        return None, block
    return gpu_item(row, row.region, epoch, window, now), block


def gpu_attestations(
    session: Session, gpu_key: str, limit: int, before_block: int | None
) -> tuple[list[dict[str, Any]], int]:
    block = as_of(session)
    statement = select(Attestation.__table__).where(AT.gpu_key == gpu_key)
    if before_block is not None:
        statement = statement.where(AT.block_number < before_block)
    rows = session.execute(
        statement.order_by(AT.block_number.desc(), AT.log_index.desc()).limit(limit)
    ).all()
    items = [
        {
            "tx_hash": r.tx_hash,
            "log_index": int(r.log_index),
            "block_number": int(r.block_number),
            "block_time": r.block_time,
            "provider": r.provider,
            "agent": r.agent,
            "gpu_index": int(r.gpu_index),
            "vendor": r.vendor,
            "vendor_id": int(r.vendor_id),
            "model": r.model,
            "memory_bytes": int(r.memory_bytes),
            "throughput_gops": int(r.throughput_gops),
            "fp32_gflops": int(r.fp32_gflops),
            "fp16_gflops": int(r.fp16_gflops),
            "memory_bandwidth_gbps": int(r.memory_bandwidth_gbps),
            "challenge": r.challenge,
            "measured_at": int(r.measured_at),
            "expires_at": int(r.expires_at),
            "signers": list(r.signers or []),
            "config_version": int(r.config_version),
        }
        for r in rows
    ]
    return items, block


def gpu_exists(session: Session, gpu_key: str) -> bool:
    found = session.execute(select(G.gpu_key).where(G.gpu_key == gpu_key)).first()
    if found is not None:
        return True
    return (
        session.execute(select(AT.gpu_key).where(AT.gpu_key == gpu_key).limit(1)).first()
        is not None
    )


# --------------------------------------------------------------------------- providers


def provider_item(row: Any) -> dict[str, Any]:
    return {
        "address": row.address,
        "name": row.name,
        "region": row.region,
        "endpoint": row.endpoint,
        "metadata_uri": row.metadata_uri,
        "metadata_hash": row.metadata_hash,
        "status": row.status,
        "registered_block": int(row.registered_block),
        "registered_at": row.registered_at,
        "updated_block": int(row.updated_block),
        "deregistered_at": row.deregistered_at,
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
        page_where.append(_keyset(column, P.address, descending, value, key))
    rows = session.execute(
        select(Provider.__table__)
        .where(*page_where)
        .order_by(*_order(column, P.address, descending))
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
    session: Session, address: str, *, window: int, uptime_epochs: int, gpu_limit: int
) -> tuple[dict[str, Any] | None, int]:
    now = int(time.time())
    block = as_of(session)
    row = session.execute(select(Provider.__table__).where(P.address == address)).first()
    if row is None:
        return None, block
    epoch = latest_epoch(session)
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
    gpus = [gpu_item(g, row.region, epoch, window, now) for g in gpu_rows]
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


# --------------------------------------------------------------------------- stats


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
    verified = _verified_clause(now)
    online = _online_clause(epoch, window)
    source = Gpu.__table__.outerjoin(Provider.__table__, P.address == G.provider)

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
            .select_from(source)
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
    from sqlalchemy import case

    return case((condition, value), else_=0)


# --------------------------------------------------------------------------- changes feed


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
