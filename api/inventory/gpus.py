"""GPU reads: filters and sort orders, the keyset page with its total, one GPU, its history."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    any_,
    bindparam,
    case,
    false,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from api.capabilities import FACETS, SCHEMA_NAME, document_of
from api.inventory._tables import AT, GPU_SOURCE, G, L, P
from api.inventory.columns import GpuIndex, Query, answer
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
from api.inventory.totals import EXACT_TOTAL_LIMIT, SAMPLE_ROWS, all_rows, gpu_total, sample_bound
from api.inventory.uptime import Uptimes
from depin.capabilities import version_key
from indexer.models import Attestation, Gpu

#: how the capability filters enter a statement (:func:`facets_sql`)
FacetsAs = Literal["exists", "walk", "join"]
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
    facets_as: FacetsAs = "exists",
    store: str = "",
) -> tuple[list[ColumnElement[bool]], bool]:
    """WHERE clauses for ``filters``, and whether they need the providers join.

    While liveness is not ``fresh`` a filter on online, available or healthy matches nothing:
    nobody is known to be online, nor known to be offline. Broad filters are kept off their
    indexes on SQLite unless they are the sort column; the selective ones (provider, model,
    region) keep theirs. The capability filters are as ``facets_as`` says (:func:`facets_sql`);
    ``store`` is the database's dialect when ``dialect`` is left empty to keep every index.
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
    facets = capability_conditions(filters, (dialect or store) if facets_as == "join" else "")
    if facets:
        where += facets_sql(facets, facets_as)
    return where, needs_join


def facets_sql(facets: list[ColumnElement[bool]], facets_as: FacetsAs) -> list[ColumnElement[bool]]:
    """The GPUs whose latest attestation names a stored document whose facets match.

    - ``exists``: one correlated EXISTS, which each GPU row answers by the facets' primary key
      (and PostgreSQL may turn into a join).
    - ``walk``: the same, kept a per-row lookup on PostgreSQL too (``OFFSET 0`` keeps the
      subquery from being pulled up), so that a walk of the GPUs in an order stops after a
      page or at a count's cap: PostgreSQL rates the join on two keys (document and GPU) as
      matching next to nothing, and would otherwise join every matching facet row first.
    - ``join``: the facets table joins the statement's FROM (at most one facet row per GPU:
      the key is ``(document_hash, gpu_key)``, so no GPU is counted twice) and the planner may
      start from the facet index of the narrowest filter, or from a GPU index."""
    link = [FACETS.c.document_hash == G.capabilities, FACETS.c.gpu_key == G.gpu_key]
    if facets_as == "join":
        return [*link, *facets]
    lookup = select(literal(1)).where(*link, *facets)
    if facets_as == "walk":
        lookup = lookup.offset(0)
    return [lookup.exists()]


#: what a GPU row walked with a facet lookup costs, in facet rows read by a join (PostgreSQL)
WALK_ROW_COST = 4


def walk_is_cheaper(
    filters: GpuFilters, shares: list[float | None], sampled: tuple[int, int], rows: int
) -> bool:
    """PostgreSQL, capability filters given: whether the capped count reads fewer rows by
    walking the GPUs in key order with a facet lookup each (until the cap: about cap / share
    of matching GPUs) than by reading the facet rows of its narrowest facet filter (that
    share of the GPUs) and joining their GPUs."""
    read, matched = sampled
    walk = min(rows, (EXACT_TOTAL_LIMIT + 1) * max(1, read) / max(matched, 0.5))
    facets = len(capability_conditions(filters))
    join = rows * min(share for share in shares[-facets:] if share is not None)
    return walk * WALK_ROW_COST <= join


#: the least share a term is hinted at (one row of the sample matching none, halved)
MIN_SHARE = 0.5 / SAMPLE_ROWS


def term_shares(
    session: Session,
    filters: GpuFilters,
    where: list[ColumnElement[bool]],
    counts: LruCache,
    change: Any,
) -> tuple[list[float | None], tuple[int, int]]:
    """For each term of ``where`` (as :func:`gpu_conditions` makes it with ``facets_as="join"``),
    the share of the rows it is evaluated on that it keeps: the GPUs' terms over GPUs, the
    facets' terms over facet rows, from the uniform sample of GPUs the totals' estimate reads
    (the lowest keys; :func:`~api.inventory.totals.sample_count`). None for the two terms that
    link a GPU to its facet row. SQLite's planner rates every range alike (a quarter of the
    rows) without these: it would start from a range that keeps most rows while another keeps
    none. With them, the sample's (GPUs read, GPUs matching every term), as the totals'
    estimate reads it."""
    facets = len(capability_conditions(filters))
    own = len(where) - (facets + 2 if facets else 0)
    key = ("gpus:shares", filters, change)
    found = counts.get(key)
    if found is None:
        rows = all_rows(session, counts, change)
        source: Any = GPU_SOURCE if filters.region is not None else Gpu.__table__
        if facets:
            source = source.outerjoin(FACETS, and_(*where[own : own + 2]))
        terms = [*where[:own], *where[own + 2 :]]
        statement = select(
            func.count(),
            func.count(case((and_(*terms), 1))),
            func.count(FACETS.c.gpu_key) if facets else literal(0),
            *(func.count(case((term, 1))) for term in terms),
        ).select_from(source)
        if rows > SAMPLE_ROWS:
            statement = statement.where(G.gpu_key < sample_bound(rows))
        read, matched, described, *kept = session.execute(statement).one()
        shares = [
            max(MIN_SHARE, min(1.0, int(n) / max(1, int(read if i < own else described))))
            for i, n in enumerate(kept)
        ]
        found = (
            [*shares[:own], *([None, None] if facets else []), *shares[own:]],
            (int(read), int(matched)),
        )
        counts.put(key, found)
    return list(found[0]), found[1]


def hinted(
    where: list[ColumnElement[bool]], shares: list[float | None]
) -> list[ColumnElement[bool]]:
    """``where`` with each term's share told to SQLite's planner (``likelihood``), which then
    starts from the index of the term that keeps fewest rows."""
    return [
        term
        if share is None
        else cast(ColumnElement[bool], func.likelihood(term, literal_column(f"{share:.6f}")))
        for term, share in zip(where, shares, strict=True)
    ]


_RUNTIME_COLUMNS = {
    "docker": FACETS.c.runtime_docker,
    "podman": FACETS.c.runtime_podman,
    "nvidia-container-toolkit": FACETS.c.runtime_nvidia,
}


def capability_conditions(filters: GpuFilters, dialect: str = "") -> list[ColumnElement[bool]]:
    """Conditions on the capability facets (empty: no capability filter given). On SQLite the
    few-valued ranges (PCIe generation, GPUs per host: a minimum of them matches most GPUs)
    are kept off their indexes, so that the planner, which rates any range alike, starts from
    an equality or a wider-valued range instead."""
    f = FACETS.c

    def few_valued(column: Any) -> Any:
        if dialect != "sqlite":
            return column
        return literal_column(f"+{SCHEMA_NAME}.{FACETS.name}.{column.name}", column.type)

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
        (filters.pcie_gen, few_valued(f.pcie_gen)),
        (filters.min_host_cpu_cores, f.host_cpu_cores),
        (filters.min_host_ram_gib, f.host_ram_gib),
        (filters.min_host_disk_gib, f.host_disk_gib),
        (filters.min_gpus_per_host, few_valued(f.gpus_per_host)),
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
    keys: list[str] | None = None,
    facets_as: FacetsAs = "exists",
) -> Select[Any]:
    """One keyset page (``limit`` + 1 rows, to know whether another follows).

    The page walks the sort order's index and stops after a page (broad filters kept off their
    indexes on SQLite). With ``keys``, every GPU the filters match (found by the capped
    count): the page is those GPUs, looked up by key and sorted."""
    column, descending = GPU_SORTS[sort]
    if keys is not None:
        where: list[ColumnElement[bool]] = [G.gpu_key.in_(keys)]
    else:
        where, _ = gpu_conditions(
            filters,
            epoch,
            now,
            sort_column=column,
            dialect=dialect,
            fresh=fresh,
            facets_as=facets_as,
        )
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
    index: GpuIndex | None = None,
) -> Page:
    now = int(time.time())
    # the index's version names the documents too: read once, with them, when not given
    known = snapshot(session, documents=index is not None) if known is None else known
    epoch, change, fresh = known.epoch, known.change, known.fresh
    dialect = session.get_bind().dialect.name
    if index is not None:
        after = decode_cursor(cursor, sort) if cursor is not None else None
        query = Query(epoch, fresh, now, sort, limit, after)
        answered = answer(index, session, filters, query, known)
        if answered is not None:  # the page's keys, in order, and the exact total
            page_keys, count = answered
            return _index_page(
                session, page_keys, count, sort, limit, known, filters, now, uptimes, index
            )
    # The total first (its capped count reads the narrowest index, and is cached). On SQLite,
    # and on PostgreSQL with capability filters, the count reads the matching keys: when they
    # are all (an exact total), the page is those few GPUs, looked up by key and sorted,
    # instead of a walk of the sort order past rows that do not match (all of them, for a
    # filter that matches none). Otherwise PostgreSQL weighs the plans by its statistics.
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
    sqlite = dialect == "sqlite"
    # SQLite always; PostgreSQL when capability filters are given (see facets_sql)
    planned = sqlite or bool(capability_conditions(filters))
    keys_key = ("gpus:keys", *count_key)
    keys: list[str] | None = counts.get(keys_key) if planned else None
    if total is None or (
        keys is None and planned and total.exact and total.value <= EXACT_TOTAL_LIMIT
    ):
        count_where, _ = gpu_conditions(
            filters,
            epoch,
            now,
            fresh=fresh,
            facets_as="join" if planned else "exists",
            store=dialect,
        )  # any index
        found = None
        sampled = None
        walk = False
        if planned and count_where:
            # The matching keys themselves, up to the cap (the count's reads; the page then
            # looks up at most that many GPUs by key and sorts them). Read through the
            # narrowest filter's index: SQLite is told each term's share of the sample;
            # PostgreSQL joins the facets when the sample says few GPUs match, else walks
            # the GPUs with a lookup each and stops at the cap.
            shares, sampled = term_shares(session, filters, count_where, counts, change)
            if sqlite:
                count_where = hinted(count_where, shares)
            else:
                walk = walk_is_cheaper(filters, shares, sampled, all_rows(session, counts, change))
                if walk:
                    count_where, _ = gpu_conditions(
                        filters, epoch, now, fresh=fresh, facets_as="walk"
                    )
            source = GPU_SOURCE if filters.region is not None else Gpu.__table__
            capped = select(G.gpu_key).select_from(source).where(*count_where)
            if walk:  # in key order: the keys are hashes, so matches come evenly
                capped = capped.order_by(G.gpu_key)
            matched = session.scalars(capped.limit(EXACT_TOTAL_LIMIT + 1)).all()
            found = len(matched)
            if found <= EXACT_TOTAL_LIMIT:
                keys = [str(k) for k in matched]
                counts.put(keys_key, keys)
        if total is None:
            sample_where, _ = gpu_conditions(filters, epoch, now, fresh=fresh)
            total = gpu_total(
                session,
                count_where,
                join_providers=filters.region is not None,
                counts=counts,
                change=change,
                sample_where=sample_where,
                found=found,
                sampled=sampled,
            )
            counts.put(count_key, total)
    statement = gpu_page_statement(
        filters,
        epoch,
        now,
        sort,
        limit,
        cursor,
        dialect,
        fresh,
        keys,
        facets_as="exists" if sqlite else "walk",
    )
    rows = session.execute(statement).all()
    items = _items(session, rows[:limit], known, filters.online_epochs, now, uptimes)
    return _finished(items, len(rows) > limit, sort, known, total.value, total.exact)


def _index_page(
    session: Session,
    page_keys: list[str],
    count: int,
    sort: str,
    limit: int,
    known: Snapshot,
    filters: GpuFilters,
    now: int,
    uptimes: Uptimes | None,
    index: GpuIndex,
) -> Page:
    """The page of ``page_keys`` (``limit`` + 1 of them in the page's order). A GPU shown at
    the same snapshot, second and liveness window is not read nor shaped again: random
    filters keep returning the GPUs that lead a sort order."""
    keys = page_keys[:limit]
    window = filters.online_epochs
    shown = index.items

    def key(gpu_key: str) -> tuple[Any, ...]:
        return (known, window, now, uptimes is not None, gpu_key)

    found: dict[str, dict[str, Any] | None] = {k: shown.get(key(k)) for k in keys}
    missing = [k for k, item in found.items() if item is None]
    if missing:
        rows = session.execute(_by_keys(session.get_bind().dialect.name), {"keys": missing}).all()
        for row, item in zip(rows, _items(session, rows, known, window, now, uptimes), strict=True):
            found[row.gpu_key] = item
            shown.put(key(row.gpu_key), item)
    items = [item for item in found.values() if item is not None]
    return _finished(items, len(page_keys) > limit, sort, known, count)


def _finished(
    items: list[dict[str, Any]],
    more: bool,
    sort: str,
    known: Snapshot,
    total: int,
    exact: bool = True,
) -> Page:
    """The page of ``items``, with a cursor after its last one when ``more`` follow."""
    next_cursor = None
    if more and items:
        column, _ = GPU_SORTS[sort]
        last = items[-1]
        next_cursor = encode_cursor(sort, last[column.key], last["gpu_key"])
    return Page(items, next_cursor, total, known.block, known.liveness(), exact)


_PAGE_COLUMNS = (*GPU_COLUMNS, P.region)


@lru_cache(maxsize=4)
def _by_keys(dialect: str) -> Select[Any]:
    """The GPUs whose keys the parameter ``keys`` lists (one statement for any number of
    keys: an array on PostgreSQL, so its text and plan are the same every time)."""
    statement = select(*_PAGE_COLUMNS).select_from(GPU_SOURCE)
    if dialect == "postgresql":
        keys = bindparam("keys", type_=postgresql.ARRAY(G.gpu_key.type))
        return statement.where(G.gpu_key == any_(keys))
    return statement.where(G.gpu_key.in_(bindparam("keys", expanding=True)))


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
