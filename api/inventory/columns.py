"""The GPU list as columns in memory: any filter of ``GET /v1/gpus`` answered from numpy
arrays (its page's keys and its exact total) in about a millisecond at 100k GPUs.

SQL answers a filter somebody asked before from the page cache, and a new one by reading
the rows it matches through one index per term: a filter of two broad terms, or one the
indexes do not lead with, reads tens of thousands of rows to return fifty, and a scheduler
trying filters lives on that path. Here every filter is a few vectorized comparisons over
every GPU (one array per column, rows in ``gpu_key`` order), and a sort order is a
permutation kept sorted, walked until a page is found. The page's rows themselves are then
read by key, so a page answered here is the page SQL would give: the same rows, order,
cursor and total (tested side by side on both databases).

One index per API process (``app.state.gpu_index``), built in a background thread at start-up
(the SQL path answers until it is ready), then kept equal to what each request's read
transaction sees. A request reads the *version* its transaction sees (the changes feed's last
row, the last liveness record, the newest capability document) and

- the generation of the index at that version answers it (a few recent ones are kept: a
  request whose transaction began before another moved the index is still answered);
- when the index is behind, the request moves it forward in its own transaction, one thread
  at a time: the GPUs the new changes name are read again (with their facets), new GPUs go
  in in key order; a new liveness record reads every GPU's liveness columns again; a new
  document the facets of the GPUs it names. A reorg, or more changes than
  :data:`REBUILD_SHARE` of the GPUs, starts a rebuild in the background (SQL answers
  meanwhile).

A generation is never changed once made: moving forward makes new arrays and swaps the
reference, so queries take no lock (a move copies only the columns whose values changed).
About 430 bytes a GPU (550 MB resident for a million).
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, select, text
from sqlalchemy.orm import Session

from api.capabilities import DOCUMENTS, FACETS
from api.inventory._tables import CH, G, P
from api.inventory.lru import LruCache
from api.inventory.snapshot import Snapshot, snapshot
from depin import metrics
from depin.capabilities import version_key
from indexer.models import Gpu

log = logging.getLogger("depin.api")

Array = npt.NDArray[Any]
#: SQL's NULL in a numeric column: no minimum matches it
NULL = np.iinfo(np.int64).min
#: more changed GPUs than this share of all of them (or a reorg): rebuilt, not moved forward
REBUILD_SHARE = 0.05
#: the least number of changed GPUs that starts a rebuild
REBUILD_MIN = 5_000
#: generations kept for requests whose read transaction is older than the newest
KEPT = 4
#: GPUs as pages show them, kept for the next page at the same snapshot and second
ITEMS = 2_000
#: rows read at a time when every GPU is read
STREAMED = 20_000
#: GPU keys per ``IN`` list when rows are read again
CHUNK = 500
#: sort name -> column kept sorted (``gpu_key`` is the rows' own order)
SORT_COLUMNS = {
    "memory": "memory_bytes",
    "throughput": "throughput_gops",
    "measured_at": "measured_at",
}

_F = FACETS.c
#: the columns read per GPU: the GPU's own, then its facets (NULL when its document is absent)
_GPU = (
    G.gpu_key,
    G.provider,
    G.vendor,
    G.model,
    G.memory_bytes,
    G.throughput_gops,
    G.measured_at,
    G.expires_at,
    G.revoked,
    G.last_seen_epoch,
    G.available,
    G.healthy,
)
_FACETS = (
    _F.gpu_key.label("facet_key"),
    _F.driver_key,
    _F.cuda_key,
    _F.rocm_key,
    _F.compute_capability_key,
    _F.interconnect,
    _F.mig,
    _F.pcie_gen,
    _F.host_cpu_cores,
    _F.host_ram_gib,
    _F.host_disk_gib,
    _F.runtime_docker,
    _F.runtime_podman,
    _F.runtime_nvidia,
    _F.gpus_per_host,
)
#: how each read column is stored: (array name, kind)
_KINDS: dict[str, str] = {
    "provider": "code",
    "vendor": "code",
    "model": "code",
    "memory_bytes": "int",
    "throughput_gops": "int",
    "measured_at": "int",
    "expires_at": "int",
    "revoked": "bool",
    "last_seen_epoch": "int",
    "available": "tri",
    "healthy": "tri",
    "facet_key": "present",
    "driver_key": "code",
    "cuda_key": "code",
    "rocm_key": "code",
    "compute_capability_key": "code",
    "interconnect": "code",
    "mig": "tri",
    "pcie_gen": "int",
    "host_cpu_cores": "int",
    "host_ram_gib": "int",
    "host_disk_gib": "int",
    "runtime_docker": "bool",
    "runtime_podman": "bool",
    "runtime_nvidia": "bool",
    "gpus_per_host": "int",
}
_LIVENESS = ("last_seen_epoch", "available", "healthy")
_VERSIONS = ("driver_key", "cuda_key", "rocm_key", "compute_capability_key")
_FACET_NAMES = tuple(c.name for c in _FACETS)
_RUNTIMES = {
    "docker": "runtime_docker",
    "podman": "runtime_podman",
    "nvidia-container-toolkit": "runtime_nvidia",
}


class Version(NamedTuple):
    """What a read transaction sees of the inputs of the GPU list."""

    #: the changes feed's last row
    change: int
    #: the last liveness record (block, log index)
    liveness: tuple[int, int]
    #: the documents stored (how many, the newest ``stored_at``)
    documents: tuple[int, int]

    def before(self, other: Version) -> bool:
        """Whether a transaction seeing ``self`` began before one seeing ``other``. In that
        order: the changes feed only grows, and a reorg appends a row to it (while it may
        drop liveness records); liveness records and documents only grow between changes."""
        return tuple(self) < tuple(other)


def version_of(known: Snapshot) -> Version:
    """The version a snapshot of the inventory names."""
    return Version(known.change, known.liveness_mark, known.documents_mark)


def read_version(session: Session) -> Version:
    """The version ``session``'s transaction sees."""
    return version_of(snapshot(session, documents=True))


class Vocabulary:
    """Values of a text column as small integers, the same code for a value in every
    generation (codes are only ever added)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._codes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ranked: tuple[list[str], Array] | None = None

    def code(self, value: str | None) -> int:
        if value is None:
            return -1
        found = self._codes.get(value)
        if found is None:
            with self._lock:
                found = self._codes.get(value)
                if found is None:
                    found = len(self.values)
                    self.values.append(value)
                    self._codes[value] = found
        return found

    def find(self, value: str) -> int | None:
        """The code of ``value`` if any row ever had it."""
        return self._codes.get(value)

    def codes(self, values: Sequence[str | None]) -> Array:
        return np.fromiter((self.code(v) for v in values), dtype=np.int32, count=len(values))

    def ranks(self) -> tuple[list[str], Array]:
        """The values in text order, and a table from code to place in that order (its
        last slot, for NULL's code -1, is -1); made again only when a value was added."""
        ranked = self._ranked
        if ranked is None or len(ranked[0]) != len(self.values):
            values = list(self.values)
            order = sorted(range(len(values)), key=values.__getitem__)
            table = np.full(len(values) + 1, -1, dtype=np.int32)
            table[order] = np.arange(len(values), dtype=np.int32)
            ranked = self._ranked = ([values[i] for i in order], table)
        return ranked


def _column(kind: str, values: Sequence[Any], vocabulary: Vocabulary | None) -> Array:
    n = len(values)
    if kind == "int":
        return np.fromiter((NULL if v is None else v for v in values), dtype=np.int64, count=n)
    if kind == "bool":
        return np.fromiter((v is True or v == 1 for v in values), dtype=np.bool_, count=n)
    if kind == "tri":  # a nullable boolean: -1 NULL, 0, 1
        return np.fromiter((-1 if v is None else int(bool(v)) for v in values), np.int8, count=n)
    if kind == "present":
        return np.fromiter((v is not None for v in values), dtype=np.bool_, count=n)
    assert vocabulary is not None
    return vocabulary.codes(values)


def _narrowed(column: Array) -> Array:
    """``column`` (int64, NULL as :data:`NULL`) in int16 or int32 when its values fit, NULL
    then as that type's least value."""
    null = column == NULL
    values = column[~null]
    if len(values) == 0:
        return np.full(len(column), np.iinfo(np.int16).min, dtype=np.int16)
    low, high = int(values.min()), int(values.max())
    for dtype in (np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min < low and high <= info.max:
            narrow: Array = np.where(null, info.min, column).astype(dtype)
            return narrow
    return column


def at_least(column: Array, minimum: int) -> Array:
    """Rows of a :func:`_narrowed` column ``>= minimum``; never NULL's, as in SQL."""
    info = np.iinfo(column.dtype)
    if minimum > info.max:
        return np.zeros(len(column), dtype=np.bool_)
    if minimum <= info.min:
        result: Array = column > info.min
        return result
    kept: Array = column >= minimum
    return kept


def _sorted_rows(values: Array) -> Array:
    """Row numbers in ``(value, row)`` order: rows are in key order, so ties go by key."""
    order: Array = np.argsort(values, kind="stable")
    return order


def _reposition(order: Array, values: Array, moved: Array) -> Array:
    """``order`` (row numbers by ``(value, row)``, the ``moved`` rows possibly missing or out
    of place) with the ``moved`` rows taken out and put back where ``values`` now puts them."""
    if len(moved) == 0:
        return order
    if len(moved) * 8 > len(values):
        return _sorted_rows(values)
    marked = np.zeros(len(values), dtype=np.bool_)
    marked[moved] = True
    rest = order[~marked[order]]
    rest_values = values[rest]
    moved = moved[np.lexsort((moved, values[moved]))]
    low = np.searchsorted(rest_values, values[moved], side="left")
    high = np.searchsorted(rest_values, values[moved], side="right")
    at = np.empty(len(moved), dtype=np.int64)
    spans = zip(moved.tolist(), low.tolist(), high.tolist(), strict=True)
    for i, (row, lo, hi) in enumerate(spans):
        at[i] = lo + int(np.searchsorted(rest[lo:hi], row)) if hi > lo else lo
    placed: Array = np.insert(rest, at, moved)
    return placed


@dataclass(frozen=True)
class Generation:
    """The GPU list at one :class:`Version`: one array per column, rows in key order."""

    version: Version
    #: ``gpu_key`` of each row, ascending (bytes)
    keys: Array
    columns: dict[str, Array]
    #: the region code of each row (-1: the provider has no row)
    region: Array
    #: sort column -> rows in ``(value, key)`` order, and their values in that order
    orders: dict[str, Array]
    ranked: dict[str, Array]
    #: provider code -> region code (the providers with a row)
    providers: dict[int, int]
    #: version column -> each row's place in the text order of its values (-1: NULL), and
    #: those values in order
    ranks: dict[str, tuple[list[str], Array]]
    #: each integer column in the narrowest type that holds it (NULL as that type's least
    #: value): a comparison over a million int16s reads a quarter of what int64s take
    narrow: dict[str, Array]

    @property
    def size(self) -> int:
        return len(self.keys)


class Query(NamedTuple):
    """What a page needs to know besides the filters."""

    epoch: int | None
    fresh: bool
    now: int
    sort: str
    limit: int
    #: the cursor's (sort value, key), or None for the first page
    after: tuple[Any, str] | None


class GpuIndex:
    """The in-memory index of one API process (see the module)."""

    def __init__(
        self, factory: Callable[[], Session], *, enabled: bool = True, probes: bool = True
    ) -> None:
        self.enabled = enabled
        self._factory = factory
        self._generations: OrderedDict[Version, Generation] = OrderedDict()
        self._newest: Generation | None = None
        self._lock = threading.RLock()
        self._building = False
        self.vocabularies = {name: Vocabulary() for name, k in _KINDS.items() if k == "code"}
        self.regions = Vocabulary()
        #: GPUs as pages show them, by (snapshot, window, second, uptimes, key)
        self.items = LruCache(size=ITEMS)
        #: what the last build took, for the health route and the logs
        self.built_in: float | None = None
        self.moves = 0
        self.rebuilds = 0
        for name, doc, read in _PROBES if probes else ():  # gauges while it lives
            metrics.probe(name, doc, self, read)

    # ------------------------------------------------------------------ state

    @property
    def ready(self) -> bool:
        return self._newest is not None

    @property
    def size(self) -> int | None:
        newest = self._newest
        return None if newest is None else newest.size

    def start(self) -> None:
        """Builds the index in a background thread (once at a time)."""
        if not self.enabled:
            return
        with self._lock:
            if self._building:
                return
            self._building = True
        threading.Thread(target=self._build_in, daemon=True, name="gpu-index").start()

    def _build_in(self) -> None:
        try:
            with self._factory() as session:
                generation = self.build(session)
            self._keep(generation)
        except Exception as exc:  # the SQL path answers; the next request may try again
            log.warning("the in-memory GPU index was not built: %s", exc)
        finally:
            with self._lock:
                self._building = False

    def _keep(self, generation: Generation) -> None:
        with self._lock:
            newest = self._newest
            if newest is not None and generation.version.before(newest.version):
                return
            self._newest = generation
            self._generations[generation.version] = generation
            while len(self._generations) > KEPT:
                self._generations.popitem(last=False)

    # ------------------------------------------------------------------ reading

    def build(self, session: Session) -> Generation:
        """The whole GPU list as ``session`` sees it."""
        started = time.perf_counter()
        version = read_version(session)
        keys, columns = self._read(session, None)
        if len(keys) > 1 and not bool(np.all(keys[:-1] < keys[1:])):
            raise RuntimeError("the database does not order GPU keys as bytes")
        generation = self._assemble(version, keys, columns, self._provider_regions(session))
        self.built_in = time.perf_counter() - started
        self.rebuilds += 1
        log.info("in-memory GPU index: %d GPUs in %.2fs", generation.size, self.built_in)
        return generation

    def _read(self, session: Session, keys: Sequence[str] | None) -> tuple[Array, dict[str, Array]]:
        """Every GPU (``keys`` None) or the GPUs ``keys`` names, in key order, with the
        facets of the document its latest attestation names."""
        link = and_(_F.document_hash == G.capabilities, _F.gpu_key == G.gpu_key)
        statement = (
            select(*_GPU, *_FACETS)
            .select_from(Gpu.__table__.outerjoin(FACETS, link))
            .order_by(G.gpu_key)
        )
        names = [c.name for c in _GPU] + list(_FACET_NAMES)
        if keys is None:
            return self._columns(_streamed(session, statement), names, _KINDS)
        ordered = sorted(keys)
        chunks = (
            session.execute(statement.where(G.gpu_key.in_(ordered[i : i + CHUNK]))).all()
            for i in range(0, len(ordered), CHUNK)
        )
        return self._columns(chunks, names, _KINDS)

    def _columns(
        self, chunks: Iterable[Sequence[Any]], names: list[str], kinds: dict[str, str]
    ) -> tuple[Array, dict[str, Array]]:
        """Rows (key first), chunk by chunk, as the key array and one array per ``kinds``
        column: a chunk's rows are dropped once it is converted, so a million GPUs never
        sit in memory as Python rows (whose memory Python keeps once it has it)."""
        found: list[Array] = []
        parts: dict[str, list[Array]] = {name: [] for name in kinds}
        for rows in chunks:
            if not rows:
                continue
            by_name = dict(zip(names, zip(*rows, strict=True), strict=True))
            found.append(np.array(by_name["gpu_key"], dtype="S66"))
            for name, kind in kinds.items():
                parts[name].append(_column(kind, by_name[name], self.vocabularies.get(name)))
        if not found:
            empty = [_column(kind, (), self.vocabularies.get(n)) for n, kind in kinds.items()]
            return np.array([], "S66"), dict(zip(kinds, empty, strict=True))
        return np.concatenate(found), {name: np.concatenate(parts[name]) for name in kinds}

    def _provider_regions(self, session: Session) -> dict[int, int]:
        """Provider code -> region code, for every provider with a row."""
        rows = session.execute(select(P.address, P.region)).all()
        codes = self.vocabularies["provider"]
        return {codes.code(r.address): self.regions.code(r.region) for r in rows}

    def _assemble(
        self,
        version: Version,
        keys: Array,
        columns: dict[str, Array],
        regions: dict[int, int],
        orders: dict[str, Array] | None = None,
        old: Generation | None = None,
    ) -> Generation:
        """A generation of these arrays; what it derives from them is taken from ``old``
        where the arrays it derives from are the same ones."""

        def same(name: str) -> bool:
            return old is not None and old.columns[name] is columns[name]

        if old is not None and same("provider") and regions == old.providers:
            region = old.region
        else:
            table = np.full(len(self.vocabularies["provider"].values) + 1, -1, dtype=np.int32)
            for provider, code in regions.items():
                table[provider] = code
            region = table[columns["provider"]]
        if orders is None:
            orders = {c: _sorted_rows(columns[c]) for c in SORT_COLUMNS.values()}
        ranked = {
            c: old.ranked[c]
            if old is not None and old.orders[c] is o and same(c)
            else columns[c][o]
            for c, o in orders.items()
        }
        ranks: dict[str, tuple[list[str], Array]] = {}
        for name in _VERSIONS:
            ordered, table = self.vocabularies[name].ranks()
            kept = old.ranks[name] if old is not None else None
            if kept is not None and same(name) and kept[0] is ordered:
                ranks[name] = kept
            else:
                ranks[name] = (ordered, table[columns[name]])
        narrow = {
            n: old.narrow[n] if old is not None and same(n) else _narrowed(columns[n])
            for n, kind in _KINDS.items()
            if kind == "int"
        }
        return Generation(version, keys, columns, region, orders, ranked, regions, ranks, narrow)

    # ------------------------------------------------------------------ keeping up

    def at(self, session: Session, known: Snapshot | None = None) -> Generation | None:
        """The generation at ``known`` (the snapshot the request answers at; by default
        what ``session``'s transaction sees), moving the index forward in ``session`` when it
        is behind; None when the SQL path must answer (not built yet, being rebuilt, or
        ``known`` is older than every generation kept)."""
        if not self.enabled:
            return None
        version = version_of(known) if known is not None else read_version(session)
        found = self._generations.get(version)
        if found is not None:
            return found
        with self._lock:  # one thread moves it; the others wait, then find its generation
            found = self._generations.get(version)
            newest = self._newest
            if found is not None or newest is None or version.before(newest.version):
                return found
            if self._building:
                return None
            moved = self._forward(session, newest, version)
            if moved is not None:
                self._keep(moved)
            return moved

    def _forward(self, session: Session, old: Generation, version: Version) -> Generation | None:
        """``old`` brought to ``version`` (as ``session`` sees it), or None after starting a
        rebuild."""
        changed: set[str] = set()
        providers = False
        limit = max(REBUILD_MIN, int(old.size * REBUILD_SHARE))  # more changes: rebuilt
        if version.change != old.version.change:
            rows = session.execute(
                select(CH.kind, CH.subject).where(
                    CH.id > old.version.change, CH.id <= version.change
                )
            ).all()
            if len(rows) > limit or any(r.kind == "reorg" for r in rows):
                self.start()
                return None
            for kind, subject in rows:
                if kind.startswith("provider_"):
                    providers = True
                elif kind.startswith("gpu_") and subject is not None:
                    changed.add(subject)
        if version.documents != old.version.documents:
            newest = old.version.documents[1]
            link = and_(_F.document_hash == G.capabilities, _F.gpu_key == G.gpu_key)
            named = session.scalars(
                select(G.gpu_key)
                .select_from(FACETS.join(DOCUMENTS, DOCUMENTS.c.document_hash == _F.document_hash))
                .join(Gpu.__table__, link)
                .where(DOCUMENTS.c.stored_at >= newest)
            ).all()
            changed.update(str(k) for k in named)
            if len(changed) > limit:
                self.start()
                return None
        keys, columns, orders = old.keys, old.columns, old.orders
        if changed:
            keys, columns, orders = self._reread(session, old, sorted(changed))
        if version.liveness != old.version.liveness:
            live_keys, live = self._liveness(session)
            if not np.array_equal(live_keys, keys):
                self.start()
                return None
            columns = {**columns, **live}
        regions = self._provider_regions(session) if providers else old.providers
        self.moves += 1
        return self._assemble(version, keys, columns, regions, orders, old)

    def _reread(
        self, session: Session, old: Generation, changed: list[str]
    ) -> tuple[Array, dict[str, Array], dict[str, Array]]:
        """``old``'s arrays with the ``changed`` GPUs read again (new ones inserted)."""
        found, fresh = self._read(session, changed)
        keys, columns, orders = old.keys, dict(old.columns), dict(old.orders)
        at = np.searchsorted(keys, found)
        inside = np.minimum(at, max(len(keys) - 1, 0))
        known = (at < len(keys)) & (keys[inside] == found) if len(keys) else at < 0
        new = ~known
        if new.any():  # inserted in key order; every later row moves down
            places = at[new]
            keys = np.insert(keys, places, found[new])
            columns = {n: np.insert(c, places, fresh[n][new]) for n, c in columns.items()}
            shift = np.arange(len(old.keys)) + np.searchsorted(
                places, np.arange(len(old.keys)), "right"
            )
            orders = {n: shift[o] for n, o in orders.items()}
        rows = np.searchsorted(keys, found)
        for name, column in columns.items():
            if new.any() or not np.array_equal(column[rows], fresh[name]):
                if not new.any():
                    column = columns[name] = column.copy()  # the old generation keeps its own
                column[rows] = fresh[name]
                if name in orders:
                    orders[name] = _reposition(orders[name], column, rows)
        return keys, columns, orders

    def _liveness(self, session: Session) -> tuple[Array, dict[str, Array]]:
        """Every GPU's liveness columns, in key order."""
        statement = select(G.gpu_key, *(getattr(G, n) for n in _LIVENESS)).order_by(G.gpu_key)
        kinds = {name: _KINDS[name] for name in _LIVENESS}
        return self._columns(_streamed(session, statement), ["gpu_key", *_LIVENESS], kinds)


def _streamed(session: Session, statement: Any) -> Iterable[Sequence[Any]]:
    """``statement``'s rows in chunks of :data:`STREAMED` (a server-side cursor on
    PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        # a cursor is planned for its first rows unless told it will be read to the end
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
    result = session.execute(statement.execution_options(yield_per=STREAMED))
    yield from result.partitions()


_PROBES: tuple[tuple[str, str, Callable[[GpuIndex], float]], ...] = (
    (
        "depin_api_gpu_index_gpus",
        "GPUs in the newest generation of the in-memory GPU index (0: not built)",
        lambda index: float(index.size or 0),
    ),
    (
        "depin_api_gpu_index_build_seconds",
        "what the last build of the in-memory GPU index took",
        lambda index: float(index.built_in or 0.0),
    ),
    (
        "depin_api_gpu_index_moves",
        "times the in-memory GPU index was moved forward by what the indexer wrote",
        lambda index: float(index.moves),
    ),
    (
        "depin_api_gpu_index_rebuilds",
        "builds of the in-memory GPU index (the first, and one after each reorg)",
        lambda index: float(index.rebuilds),
    ),
)


# ---------------------------------------------------------------------- queries


def matching(generation: Generation, filters: Any, query: Query, index: GpuIndex) -> Array | None:
    """The rows ``filters`` match, as a boolean mask (None: every row)."""
    c = generation.columns
    n = generation.narrow
    terms: list[Array] = []

    def coded(name: str, value: str | None) -> None:
        if value is None:
            return
        vocabulary = index.regions if name == "region" else index.vocabularies[name]
        code = vocabulary.find(value)
        column = generation.region if name == "region" else c[name]
        terms.append(column == code if code is not None else np.zeros(generation.size, np.bool_))

    coded("vendor", filters.vendor)
    coded("model", filters.model)
    if filters.min_memory is not None:
        terms.append(at_least(n["memory_bytes"], filters.min_memory))
    if filters.min_throughput is not None:
        terms.append(at_least(n["throughput_gops"], filters.min_throughput))
    coded("provider", filters.provider)
    if filters.on_liveness and not query.fresh:
        terms.append(np.zeros(generation.size, np.bool_))
    elif filters.on_liveness:
        assert query.epoch is not None  # fresh liveness has a last epoch
        online = at_least(n["last_seen_epoch"], query.epoch - filters.online_epochs + 1)
        if filters.online is not None:
            terms.append(online if filters.online else ~online)
        if filters.available is not None:
            if filters.available:
                terms.append(online & (c["available"] == 1))
            else:
                terms.append(~online | (c["available"] == 0))
        if filters.healthy is not None:
            terms.append(online & (c["healthy"] == int(filters.healthy)))
    if filters.verified is not None:
        verified = ~c["revoked"] & at_least(n["expires_at"], query.now + 1)
        terms.append(verified if filters.verified else ~verified)
    coded("region", filters.region)
    terms += _capability_terms(generation, filters, index)
    if not terms:
        return None
    mask = terms[0].copy()
    for term in terms[1:]:
        mask &= term
    return mask


def _capability_terms(generation: Generation, filters: Any, index: GpuIndex) -> list[Array]:
    c = generation.columns
    terms: list[Array] = []
    for minimum, name in (
        (filters.min_driver, "driver_key"),
        (filters.min_cuda, "cuda_key"),
        (filters.min_rocm, "rocm_key"),
        (filters.min_compute_capability, "compute_capability_key"),
    ):
        if minimum is not None:
            key = version_key(minimum)
            if key is None:
                terms.append(np.zeros(generation.size, np.bool_))
            else:
                ordered, ranks = generation.ranks[name]
                terms.append(ranks >= bisect_left(ordered, key))
    if filters.interconnect is not None:
        code = index.vocabularies["interconnect"].find(filters.interconnect)
        terms.append(
            c["interconnect"] == code if code is not None else np.zeros(generation.size, np.bool_)
        )
    if filters.mig is not None:
        terms.append(c["mig"] == int(filters.mig))
    for low, name in (
        (filters.pcie_gen, "pcie_gen"),
        (filters.min_host_cpu_cores, "host_cpu_cores"),
        (filters.min_host_ram_gib, "host_ram_gib"),
        (filters.min_host_disk_gib, "host_disk_gib"),
        (filters.min_gpus_per_host, "gpus_per_host"),
    ):
        if low is not None:
            terms.append(at_least(generation.narrow[name], low))
    if filters.container_runtime is not None:
        terms.append(c[_RUNTIMES[filters.container_runtime]].copy())
    if terms:
        terms.append(c["facet_key"])  # the document is present
    return terms


def page_keys(
    generation: Generation, mask: Array | None, query: Query
) -> tuple[list[str], int] | None:
    """The keys of the page (``limit`` + 1 rows, to tell whether another follows) in the
    sort's order, and the exact total; None when the cursor is not one this sort makes."""
    total = generation.size if mask is None else int(np.count_nonzero(mask))
    descending = query.sort.startswith("-")
    name = query.sort.lstrip("-")
    want = query.limit + 1
    keys = generation.keys
    if name == "gpu_key":
        start, stop = 0, generation.size
        if query.after is not None:
            if not _comparable(0, query.after[1]):
                return None
            after = np.bytes_(query.after[1])
            if descending:
                stop = int(np.searchsorted(keys, after, "left"))
            else:
                start = int(np.searchsorted(keys, after, "right"))
        if mask is None:
            rows = np.arange(max(start, stop - want), stop)[::-1] if descending else None
            rows = np.arange(start, min(stop, start + want)) if rows is None else rows
        else:
            rows = _walk_keys(mask, start, stop, want, descending)
    else:
        column = SORT_COLUMNS[name]
        order = generation.orders[column]
        start, stop = 0, len(order)
        if query.after is not None:
            value, key = query.after
            if not _comparable(value, key):
                return None
            # rows up to (value, key) in (value, key) order
            ranked = generation.ranked[column]
            low = int(np.searchsorted(ranked, value, "left"))
            high = int(np.searchsorted(ranked, value, "right"))
            bound = int(np.searchsorted(keys, np.bytes_(key), "left" if descending else "right"))
            cut = low + int(np.searchsorted(order[low:high], bound, "left"))
            if descending:
                stop = cut
            else:
                start = cut
        rows = _walk(order[start:stop], mask, want, descending)
    return [k.decode() for k in keys[rows]], total


def _walk_keys(mask: Array, start: int, stop: int, want: int, descending: bool) -> Array:
    """The first ``want`` rows in ``[start, stop)`` that ``mask`` keeps (the last, in
    reverse, when ``descending``), reading the mask in growing chunks."""
    found: list[Array] = []
    count, size = 0, 16 * want
    while start < stop and count < want:
        if descending:
            low = max(start, stop - size)
            kept = np.flatnonzero(mask[low:stop])[::-1] + low
            stop = low
        else:
            high = min(stop, start + size)
            kept = np.flatnonzero(mask[start:high]) + start
            start = high
        found.append(kept[: want - count])
        count += len(found[-1])
        size *= 4
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _comparable(value: Any, key: Any) -> bool:
    """Whether a cursor's (value, key) compares here as SQL compares it: a 64-bit integer
    and a key of at most 66 ASCII characters (anything else is left to SQL)."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and NULL < value < 2**63
        and isinstance(key, str)
        and key.isascii()
        and len(key) <= 66
    )


def _walk(rows: Array, mask: Array | None, want: int, descending: bool) -> Array:
    """The first ``want`` of ``rows`` (the last, in reverse, when ``descending``) that
    ``mask`` keeps, reading them in growing chunks."""
    if descending:
        rows = rows[::-1]
    if mask is None:
        return rows[:want]
    found: list[Array] = []
    count, start, size = 0, 0, 4 * want
    while start < len(rows) and count < want:
        chunk = rows[start : start + size]
        kept = chunk[mask[chunk]]
        found.append(kept[: want - count])
        count += len(found[-1])
        start += size
        size *= 4
    return np.concatenate(found) if found else rows[:0]


def answer(
    index: GpuIndex, session: Session, filters: Any, query: Query, known: Snapshot | None = None
) -> tuple[list[str], int] | None:
    """The page's keys and exact total from the index, or None for the SQL path."""
    generation = index.at(session, known)
    if generation is None:
        return None
    return page_keys(generation, matching(generation, filters, query, index), query)
