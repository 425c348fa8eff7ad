"""GPU reads: filters and sort orders, the keyset page with its total, one GPU, its history."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, literal_column, select, tuple_
from sqlalchemy.orm import Session

from api.capabilities import FACETS, document_of
from api.inventory._tables import AT, GPU_SOURCE, G, L, P
from api.inventory.cursor import Page, decode_cursor, encode_cursor, keyset, order
from api.inventory.lru import LruCache
from api.inventory.predicates import (
    available_sql,
    healthy_sql,
    offline_sql,
    online_sql,
    unknown_sql,
    verified_sql,
)
from api.inventory.shaping import attestation_item, gpu_item
from api.inventory.snapshot import Snapshot, as_of, snapshot
from api.inventory.totals import gpu_total
from api.inventory.uptime import Uptimes
from depin.capabilities import version_key
from indexer.models import Attestation

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
    available: bool | None = None
    healthy: bool | None = None
    #: capability filters (version keys as :func:`depin.capabilities.version_key` makes them)
    min_driver: str | None = None
    min_cuda: str | None = None
    min_rocm: str | None = None
    min_compute_capability: str | None = None
    interconnect: str | None = None
    mig: bool | None = None
    pcie_gen: int | None = None
    min_host_cpu_cores: int | None = None
    min_host_ram_gib: int | None = None
    min_host_disk_gib: int | None = None
    container_runtime: str | None = None
    min_gpus_per_host: int | None = None

    @property
    def on_liveness(self) -> bool:
        """Whether any filter asks about liveness (unknown while liveness lags)."""
        return self.online is not None or self.available is not None or self.healthy is not None


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
    fresh: bool = True,
) -> tuple[list[ColumnElement[bool]], bool]:
    """WHERE clauses for ``filters``, and whether they need the providers join.

    While liveness is not ``fresh`` a filter on online, available or healthy matches nothing:
    nobody is known to be online, nor known to be offline. Broad filters are kept off their
    indexes on SQLite unless they are the sort column; the selective ones (provider, model,
    region) keep theirs.
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
    window = filters.online_epochs
    if filters.on_liveness and not fresh:
        where.append(unknown_sql())
    elif filters.on_liveness:
        seen = broad(G.last_seen_epoch)
        if filters.online is not None:
            liveness = online_sql if filters.online else offline_sql
            where.append(liveness(epoch, window, last_seen=seen))
        if filters.available is not None:
            free = broad(G.available)
            where.append(
                available_sql(filters.available, epoch, window, last_seen=seen, available=free)
            )
        if filters.healthy is not None:
            well = broad(G.healthy)
            where.append(healthy_sql(filters.healthy, epoch, window, last_seen=seen, healthy=well))
    if filters.verified is not None:
        clause = verified_sql(now, revoked=broad(G.revoked), expires_at=broad(G.expires_at))
        where.append(clause if filters.verified else ~clause)
    needs_join = filters.region is not None
    if filters.region is not None:
        where.append(P.region == filters.region)
    facets = capability_conditions(filters)
    if facets:
        # the GPUs whose latest attestation names a stored document whose facets match
        where.append(
            tuple_(G.capabilities, G.gpu_key).in_(
                select(FACETS.c.document_hash, FACETS.c.gpu_key).where(*facets)
            )
        )
    return where, needs_join


_RUNTIME_COLUMNS = {
    "docker": FACETS.c.runtime_docker,
    "podman": FACETS.c.runtime_podman,
    "nvidia-container-toolkit": FACETS.c.runtime_nvidia,
}


def capability_conditions(filters: GpuFilters) -> list[ColumnElement[bool]]:
    """Conditions on the capability facets (empty: no capability filter given)."""
    f = FACETS.c
    where: list[ColumnElement[bool]] = []
    for minimum, column in (
        (filters.min_driver, f.driver_key),
        (filters.min_cuda, f.cuda_key),
        (filters.min_rocm, f.rocm_key),
        (filters.min_compute_capability, f.compute_capability_key),
    ):
        if minimum is not None:
            key = version_key(minimum)
            where.append(column >= key if key is not None else false())
    if filters.interconnect is not None:
        where.append(f.interconnect == filters.interconnect)
    if filters.mig is not None:
        where.append(f.mig.is_(filters.mig))
    for low, column in (
        (filters.pcie_gen, f.pcie_gen),
        (filters.min_host_cpu_cores, f.host_cpu_cores),
        (filters.min_host_ram_gib, f.host_ram_gib),
        (filters.min_host_disk_gib, f.host_disk_gib),
        (filters.min_gpus_per_host, f.gpus_per_host),
    ):
        if low is not None:
            where.append(column >= low)
    if filters.container_runtime is not None:
        where.append(_RUNTIME_COLUMNS[filters.container_runtime].is_(True))
    return where


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
    G.available,
    G.healthy,
    G.config_version,
    G.signers,
    G.attestation_tx,
    G.first_attested_block,
    G.attested_block,
)


def gpu_page_statement(
    filters: GpuFilters,
    epoch: int | None,
    now: int,
    sort: str,
    limit: int,
    cursor: str | None,
    dialect: str,
    fresh: bool = True,
) -> Select[Any]:
    """One keyset page (``limit`` + 1 rows, to know whether another follows)."""
    column, descending = GPU_SORTS[sort]
    where, _ = gpu_conditions(filters, epoch, now, sort_column=column, dialect=dialect, fresh=fresh)
    if cursor is not None:
        value, key = decode_cursor(cursor, sort)
        where.append(keyset(column, G.gpu_key, descending, value, key))
    return (
        select(*GPU_COLUMNS, P.region)
        .select_from(GPU_SOURCE)
        .where(*where)
        .order_by(*order(column, G.gpu_key, descending))
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
    uptimes: Uptimes | None = None,
) -> Page:
    now = int(time.time())
    column, _ = GPU_SORTS[sort]
    known = snapshot(session) if known is None else known
    block, epoch, change, fresh = known.block, known.epoch, known.change, known.fresh
    dialect = session.get_bind().dialect.name
    statement = gpu_page_statement(filters, epoch, now, sort, limit, cursor, dialect, fresh)
    rows = session.execute(statement).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = _items(session, rows, known, filters.online_epochs, now, uptimes)
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
        fresh,
        now if filters.verified is not None else None,
    )
    total = counts.get(count_key)
    if total is None:
        count_where, _ = gpu_conditions(filters, epoch, now, fresh=fresh)  # any index
        total = gpu_total(
            session,
            count_where,
            join_providers=filters.region is not None,
            counts=counts,
            change=change,
        )
        counts.put(count_key, total)
    return Page(items, next_cursor, total.value, block, known.liveness(), total.exact)


def _items(
    session: Session,
    rows: Any,
    known: Snapshot,
    window: int,
    now: int,
    uptimes: Uptimes | None,
) -> list[dict[str, Any]]:
    """Rows as GPUs, with their uptimes when ``uptimes`` is given."""
    ups: list[dict[str, float | None]] | None = None
    if uptimes is not None:
        ups = uptimes.of(
            session, known, [(int(r.gpu_index), int(r.first_attested_block)) for r in rows]
        )
    return [
        gpu_item(
            r,
            r.region,
            known.epoch,
            window,
            now,
            fresh=known.fresh,
            uptime=ups[i] if ups is not None else None,
        )
        for i, r in enumerate(rows)
    ]


def get_gpu(
    session: Session, gpu_key: str, window: int, uptimes: Uptimes | None = None
) -> tuple[dict[str, Any] | None, Snapshot]:
    """One GPU, with ``capabilities_hash`` (the document its latest attestation names) and
    ``capabilities`` (that document's part for it and its host, when the API holds it)."""
    now = int(time.time())
    known = snapshot(session)
    row = session.execute(
        select(*GPU_COLUMNS, G.capabilities, P.region)
        .select_from(GPU_SOURCE)
        .where(G.gpu_key == gpu_key)
    ).first()
    if row is None:
        return None, known
    item = _items(session, [row], known, window, now, uptimes)[0]
    item["capabilities_hash"] = row.capabilities
    item["capabilities"] = document_of(session, row.capabilities, gpu_key)
    return item, known


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
    return [attestation_item(r) for r in rows], block


def gpu_exists(session: Session, gpu_key: str) -> bool:
    found = session.execute(select(G.gpu_key).where(G.gpu_key == gpu_key)).first()
    if found is not None:
        return True
    return (
        session.execute(select(AT.gpu_key).where(AT.gpu_key == gpu_key).limit(1)).first()
        is not None
    )


def _bit_sql(column: Any, index: int) -> Any:
    """The hex digits of byte ``index // 8`` of a ``0x``-hex bitmap column (SQL ``substr``,
    1-based), so a GPU's history reads two characters per record, not whole bitmaps."""
    return func.substr(column, 3 + 2 * (index // 8), 2)


def _bit(byte: str | None, index: int) -> bool | None:
    if byte is None:
        return None
    if len(byte) < 2:
        return False  # the bitmap ends before this GPU's byte
    return bool(int(byte, 16) & (0x80 >> (index % 8)))


def gpu_status(
    session: Session, gpu_key: str, epochs: int
) -> tuple[dict[str, Any] | None, Snapshot]:
    """The GPU's last ``epochs`` epochs up to the chain's (or, unknown, the last recorded)
    epoch, newest first: recorded or missing, and if recorded whether it was online,
    available and healthy."""
    known = snapshot(session)
    row = session.execute(
        select(G.gpu_index, G.first_attested_block).where(G.gpu_key == gpu_key)
    ).first()
    if row is None:
        return None, known
    index = int(row.gpu_index)
    end = known.current_epoch if known.current_epoch is not None else known.epoch
    items: list[dict[str, Any]] = []
    if end is not None:
        start = end - epochs + 1
        records = session.execute(
            select(
                L.epoch,
                L.block_number,
                _bit_sql(L.bitmap, index).label("online"),
                _bit_sql(L.available, index).label("available"),
                _bit_sql(L.healthy, index).label("healthy"),
            )
            .where(L.epoch >= start, L.epoch <= end)
            .order_by(L.epoch, L.block_number)
        ).all()
        by_epoch = {int(r.epoch): r for r in records}
        for epoch in range(end, start - 1, -1):
            r = by_epoch.get(epoch)
            if r is None:
                items.append(
                    {
                        "epoch": epoch,
                        "recorded": False,
                        "block_number": None,
                        "online": None,
                        "available": None,
                        "healthy": None,
                    }
                )
                continue
            online = bool(_bit(r.online, index))
            items.append(
                {
                    "epoch": epoch,
                    "recorded": True,
                    "block_number": int(r.block_number),
                    "online": online,
                    "available": _bit(r.available, index) if online else False,
                    "healthy": _bit(r.healthy, index) if online else None,
                }
            )
    return {
        "gpu_key": gpu_key,
        "gpu_index": index,
        "first_attested_block": int(row.first_attested_block),
        "epochs": items,
        "liveness": known.liveness(),
    }, known
