"""Prometheus metrics of every role, in one place so that names and labels stay consistent.

The metrics are process-wide (``prometheus_client``'s default registry): each role counts what it
does here, and serves them as the Prometheus text format on ``GET /metrics`` — on its own HTTP
port (API, oracle) or on a small dedicated one (:func:`serve`: indexer, agent).

Three kinds of sources:

- counters and histograms that the code moves as work happens (events indexed, attestations
  refused by reason, request latencies);
- values read when scraped, from objects that already know them (:func:`probe`: the oracle's
  transmit queue, the heartbeat book's pending writes, a transaction ledger's pending
  transactions), so nothing has to be kept in step;
- the process-wide RPC retry counter :data:`depin.rpc.RETRIES`, read through a collector.

Labels are bounded: route templates (never raw paths), refusal codes, RPC failure kinds,
transaction states.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from depin.rpc import RETRIES
from depin.txsender import TxRecord, TxState

__all__ = [
    "CONTENT_TYPE",
    "CountingLedger",
    "MetricsMiddleware",
    "install",
    "probe",
    "render",
    "serve",
]

log = logging.getLogger("depin.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The media type of :func:`render`'s answer (the Prometheus text format)."""

# --------------------------------------------------------------------------- indexer

INDEXER_EVENTS = Counter("depin_indexer_events", "Contract events written to the inventory.")
INDEXER_HEAD = Gauge("depin_indexer_head_block", "The chain head the indexer last read.")
INDEXER_INDEXED = Gauge("depin_indexer_indexed_block", "The newest block written.")
INDEXER_BEHIND = Gauge(
    "depin_indexer_blocks_behind", "Blocks between the chain head and the newest block written."
)
INDEXER_REORGS = Counter("depin_indexer_reorgs", "Reorgs rolled back to a common ancestor.")
INDEXER_REORG_DEPTH = Histogram(
    "depin_indexer_reorg_depth_blocks",
    "Blocks rolled back per reorg.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)

# --------------------------------------------------------------------------- oracle

ATTESTATIONS_APPROVED = Counter(
    "depin_oracle_attestations_approved", "Attestations this oracle approved (co-signed)."
)
ATTESTATIONS_REFUSED = Counter(
    "depin_oracle_attestations_refused",
    "Attestations this oracle refused, by the refusal's code.",
    ["reason"],
)
HEARTBEATS_ACCEPTED = Counter(
    "depin_oracle_heartbeats_accepted", "Agents' heartbeats accepted and committed."
)
HEARTBEATS_REFUSED = Counter(
    "depin_oracle_heartbeats_refused",
    "Agents' heartbeats refused, by the refusal's code.",
    ["reason"],
)
LIVENESS_RECORDS = Counter(
    "depin_oracle_liveness_records",
    "Liveness epochs this oracle led: sent on-chain, or left a gap for want of a quorum.",
    ["outcome"],
)

# --------------------------------------------------------------------------- agent

AGENT_HEARTBEATS = Counter(
    "depin_agent_heartbeats_sent",
    "Heartbeats the agent sent, by outcome (accepted by at least one oracle, or failed).",
    ["outcome"],
)
AGENT_ATTESTATIONS = Counter(
    "depin_agent_attestations", "Attestation rounds the agent ran, by outcome.", ["outcome"]
)

# --------------------------------------------------------------------------- transactions

TX_SENT = Counter("depin_tx_sent", "Transactions signed and stored, by purpose.", ["kind"])
TX_REPLACED = Counter(
    "depin_tx_replaced",
    "Transactions re-signed at their nonce (fee bumps and cancellations), by purpose.",
    ["kind"],
)
TX_SETTLED = Counter(
    "depin_tx_settled", "Transactions settled, by purpose and final state.", ["kind", "state"]
)

# --------------------------------------------------------------------------- API

RELAY = Counter(
    "depin_api_relay",
    "Relay requests, by outcome: `relayed`, or the refusal's code.",
    ["outcome"],
)

# --------------------------------------------------------------------------- HTTP

HTTP_LATENCY = Histogram(
    "depin_http_request_duration_seconds",
    "Seconds from a request's arrival to its response's headers, by route template.",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_REQUESTS = Counter(
    "depin_http_requests", "Requests answered, by route template and status.", ["route", "status"]
)

# --------------------------------------------------------------------------- RPC


class _RpcRetries(Collector):
    """:data:`depin.rpc.RETRIES` (every retry of this process, by failure kind) as a counter."""

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "depin_rpc_errors",
            "Transient RPC failures (each retried), by kind.",
            labels=["kind"],
        )
        for kind, count in sorted(RETRIES.snapshot().items()):
            family.add_metric([kind], count)
        yield family


# --------------------------------------------------------------------------- probes

Owner = TypeVar("Owner")
Reading = float | Mapping[tuple[str, ...], float]


@dataclass
class _Probe:
    name: str
    doc: str
    labels: tuple[str, ...]
    owner: weakref.ref[Any]
    read: Callable[[Any], Reading]


class _Probes(Collector):
    """Gauges read when scraped; the readings of several owners with the same labels add up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._probes: list[_Probe] = []

    def add(self, probe: _Probe) -> None:
        with self._lock:
            self._probes = [p for p in self._probes if p.owner() is not None]
            self._probes.append(probe)

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            probes = list(self._probes)
        families: dict[str, tuple[_Probe, dict[tuple[str, ...], float]]] = {}
        for p in probes:
            owner = p.owner()
            if owner is None:
                continue
            values = families.setdefault(p.name, (p, {}))[1]
            try:
                reading = p.read(owner)
            except Exception as exc:  # a scrape never fails on one source
                log.debug("metric %s could not be read: %s", p.name, exc)
                continue
            if isinstance(reading, Mapping):
                for labels, value in reading.items():
                    values[labels] = values.get(labels, 0.0) + value
            else:
                values[()] = values.get((), 0.0) + reading
        for p, values in families.values():
            family = GaugeMetricFamily(p.name, p.doc, labels=list(p.labels))
            for labels, value in sorted(values.items()):
                family.add_metric(list(labels), value)
            yield family


_PROBES = _Probes()
REGISTRY.register(_RpcRetries())
REGISTRY.register(_PROBES)


def probe(
    name: str,
    doc: str,
    owner: Owner,
    read: Callable[[Owner], Reading],
    *,
    labels: tuple[str, ...] = (),
) -> None:
    """A gauge read from ``owner`` when scraped, for as long as ``owner`` lives.

    ``read(owner)`` returns a number, or ``{label values: number}`` for a gauge with ``labels``.
    It must not hold ``owner`` itself (it receives it), so that the gauge ends with its owner.
    """
    _PROBES.add(_Probe(name, doc, labels, weakref.ref(owner), read))


# --------------------------------------------------------------------------- transactions


def count_settled(kind: str, state: TxState) -> None:
    TX_SETTLED.labels(kind, state.value).inc()


class CountingLedger:
    """A :class:`depin.txsender.Ledger` that counts what passes through it (sent, replaced,
    settled, by the records' ``kind``) and otherwise is the ledger it wraps."""

    def __init__(self, ledger: Any) -> None:
        self.inner = ledger

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def add(self, record: TxRecord) -> TxRecord:
        stored: TxRecord = self.inner.add(record)
        TX_SENT.labels(record.kind).inc()
        return stored

    def get(self, tx_id: int) -> TxRecord | None:
        found: TxRecord | None = self.inner.get(tx_id)
        return found

    def records(self, sender: str, state: TxState | None = None) -> list[TxRecord]:
        found: list[TxRecord] = self.inner.records(sender, state)
        return found

    def find(self, kind: str, ref: str) -> list[TxRecord]:
        found: list[TxRecord] = self.inner.find(kind, ref)
        return found

    def hashes(self, tx_id: int) -> list[bytes]:
        found: list[bytes] = self.inner.hashes(tx_id)
        return found

    def replace(self, tx_id: int, tx_hash: bytes, raw: bytes, sent_at: float) -> TxRecord | None:
        new: TxRecord | None = self.inner.replace(tx_id, tx_hash, raw, sent_at)
        if new is not None:
            TX_REPLACED.labels(new.kind).inc()
        return new

    def settle(self, tx_id: int, state: TxState) -> bool:
        record = self.inner.get(tx_id)
        settled: bool = self.inner.settle(tx_id, state)
        if settled and record is not None:
            count_settled(record.kind, state)
        return settled

    def forget(self, tx_id: int) -> None:
        self.inner.forget(tx_id)


def pending_transactions(ledger: Any, sender: str) -> Mapping[tuple[str, ...], float]:
    """The ``sender``'s unsettled transactions in ``ledger``, by purpose (for :func:`probe`)."""
    counts: dict[tuple[str, ...], float] = {}
    for record in ledger.records(sender, TxState.SENT):
        counts[(record.kind,)] = counts.get((record.kind,), 0.0) + 1
    return counts


def watch_ledger(owner: Any, read_pending: Callable[[Any], Reading]) -> None:
    """``depin_tx_pending{kind}``: the unsettled transactions ``read_pending(owner)`` finds."""
    probe(
        "depin_tx_pending",
        "Transactions signed and sent but not settled yet, by purpose.",
        owner,
        read_pending,
        labels=("kind",),
    )


# --------------------------------------------------------------------------- exposition


def render() -> bytes:
    """This process's metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)


def serve(port: int, host: str = "0.0.0.0") -> bool:
    """Serves ``/metrics`` on a small dedicated HTTP server (a daemon thread); ``port`` 0 serves
    nothing. A port that is taken is logged, not raised: the role runs without it."""
    if not port:
        return False
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.warning("metrics not served on %s:%d: %s", host, port, exc)
        return False
    log.debug("metrics on http://%s:%d/metrics", host, port)
    return True


# --------------------------------------------------------------------------- ASGI

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


class MetricsMiddleware:
    """Pure ASGI: each HTTP request's latency (until its response headers) by method and route
    template, and a count by route and status. Labelled children are cached, so a request costs
    two dictionary look-ups and a histogram observation."""

    def __init__(self, app: Asgi) -> None:
        self.app = app
        self._latency: dict[tuple[str, str], Any] = {}
        self._requests: dict[tuple[str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        elapsed: float | None = None
        root = scope.get("root_path", "")

        async def timed(message: Message) -> None:
            nonlocal status, elapsed
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = time.perf_counter() - started
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            template = getattr(scope.get("route"), "path", None)
            if template is None:  # a mount (static files) moves the root path; else no route
                mounted = scope.get("root_path", "")
                template = mounted + "/{path}" if mounted != root else UNMATCHED
            method = scope.get("method", "GET")
            if method not in _METHODS:
                method = "OTHER"
            key = (method, template)
            latency = self._latency.get(key)
            if latency is None:
                latency = self._latency[key] = HTTP_LATENCY.labels(method, template)
            latency.observe(elapsed if elapsed is not None else time.perf_counter() - started)
            counted = (template, status)
            requests = self._requests.get(counted)
            if requests is None:
                requests = self._requests[counted] = HTTP_REQUESTS.labels(template, str(status))
            requests.inc()


def install(app: Any) -> None:
    """Adds ``GET /metrics`` (not in the OpenAPI document) and :class:`MetricsMiddleware` to a
    FastAPI application."""
    from fastapi.responses import Response

    def metrics() -> Response:  # sync: a scrape reads SQLite probes in a worker thread
        return Response(render(), media_type=CONTENT_TYPE)

    app.add_api_route(
        "/metrics", metrics, methods=["GET"], include_in_schema=False, response_class=Response
    )
    app.add_middleware(MetricsMiddleware)


class _Null:
    """Stands in for a metric while :func:`off` is in effect."""

    def labels(self, *_: Any, **__: Any) -> _Null:
        return self

    def inc(self, *_: Any) -> None:
        pass

    def set(self, *_: Any) -> None:
        pass

    def observe(self, *_: Any) -> None:
        pass


@contextlib.contextmanager
def off() -> Iterator[None]:
    """Every metric of this module a no-op for the duration (benchmarks compare throughput with
    and without metrics in one run; nothing else should need it)."""
    names = [
        name
        for name, value in globals().items()
        if isinstance(value, Counter | Gauge | Histogram) and name.isupper()
    ]
    saved = {name: globals()[name] for name in names}
    null = _Null()
    globals().update(dict.fromkeys(names, null))
    try:
        yield
    finally:
        globals().update(saved)
