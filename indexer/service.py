"""The indexer: backfill from the deploy block, then follow the head, rolling back reorgs.

Reorgs are detected by hash: the indexer keeps the hashes (and parent hashes) of the blocks it
indexed above the finalized block, plus the newest finalized one as an anchor. Before each step
it checks that its last block is still canonical, and it checks that each new unfinalized block
links to the one before. On a mismatch it finds the newest kept block the node still has (the
common ancestor), rolls the database back to it in one transaction and replays. If not even the
anchor is still canonical the reorg is deeper than the configured finality:
:class:`DeepReorgError`, with nothing written.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from sqlalchemy import Engine
from web3 import Web3
from web3.providers import HTTPProvider

from depin import artifacts, deployments, metrics
from depin.errors import (
    ContractNotDeployedError,
    DeploymentNotFoundError,
    NodeUnavailableError,
    WrongChainError,
)
from depin.rpc import require_chain_id
from indexer.db import make_engine, require_at_head
from indexer.decoding import LogDecoder
from indexer.errors import ChainMismatchError, DeepReorgError, RpcUnavailableError
from indexer.health import UNCHECKED, IndexerHealth, read_health
from indexer.reader import Header, LogReader, Rpc
from indexer.settings import IndexerSettings
from indexer.store import Batch, CheckpointState, Store

#: the most unfinalized blocks fetched (with their headers) in one step
UNFINALIZED_CHUNK = 500
#: seconds between checks that the node still serves the indexed chain
CHAIN_CHECK_INTERVAL = 30.0
#: seconds between progress records while there is nothing new to index
PROGRESS_INTERVAL = 5.0

log = logging.getLogger("indexer")

#: errors no retry heals: the indexer records the halt (``halt_reason``) and stops
_HALTS: tuple[tuple[type[Exception], str], ...] = (
    (DeepReorgError, "deep_reorg"),
    (WrongChainError, "wrong_chain"),
    (ChainMismatchError, "chain_mismatch"),
    (ContractNotDeployedError, "contract_not_deployed"),
)

Progress = Callable[[int, int, int], None]
"""Called after each range with (indexed block, target block, events written)."""


class _ChainMoved(Exception):
    """The node's chain changed between two reads of one step; the step is retried."""


@dataclass(frozen=True)
class Status:
    chain_id: int
    head_block: int
    indexed_block: int
    finalized_block: int

    @property
    def lag(self) -> int:
        return max(0, self.head_block - self.indexed_block)


def web3_for(url: str, timeout: float) -> Web3:
    """A web3 connection without web3's own retries (the reader retries what is safe)."""
    provider = HTTPProvider(
        url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
    )
    return Web3(provider)


class Indexer:
    """Mirrors the deployed contracts' events into the inventory database."""

    def __init__(
        self,
        settings: IndexerSettings,
        *,
        engine: Engine | None = None,
        w3: Web3 | None = None,
        contracts: dict[str, dict[str, Any]] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.url)
        self.store = Store(self.engine)
        self.w3 = w3 or web3_for(settings.rpc_url, settings.request_timeout)
        #: set to stop following, and to end any wait for a retry at once
        self.stop = stop or threading.Event()
        self.rpc = Rpc(
            self.w3,
            attempts=settings.retry_attempts,
            max_wait=settings.retry_max_wait,
            give_up_after=settings.retry_give_up_after,
            stop=self.stop,
        )
        self._contracts = contracts
        self._decoder: LogDecoder | None = None
        self._reader: LogReader | None = None
        self.chain_id = 0
        self.chain_check_interval = CHAIN_CHECK_INTERVAL
        self._chain_checked_at = 0.0
        self._progress_at = 0.0

    # ------------------------------------------------------------------ set-up

    def contracts(self) -> dict[str, dict[str, Any]]:
        """``{name: {"address", "block"}}`` of the deployed contracts to index."""
        if self._contracts is None:
            chain_id = self.rpc.chain_id()
            found = deployments.load_all(self.settings.deployments_dir, chain_id)
            chosen = {
                name: {"address": d.address, "block": d.block}
                for name, d in found.items()
                if name in self.settings.contracts
            }
            if not chosen:
                raise DeploymentNotFoundError(chain_id, " or ".join(self.settings.contracts))
            self._contracts = chosen
        return self._contracts

    @contextlib.contextmanager
    def _halting(self) -> Iterator[None]:
        """Records a halt (and logs it) when an error no retry heals ends the work."""
        try:
            yield
        except Exception as exc:
            for kind, reason in _HALTS:
                if isinstance(exc, kind):
                    self._record_halt(reason, exc)
            raise

    def _record_halt(self, reason: str, exc: Exception) -> None:
        detail: dict[str, Any] = {"message": str(exc), "code": getattr(exc, "code", None)}
        if isinstance(exc, DeepReorgError):
            detail.update(depth=exc.depth, from_block=exc.from_block, to_block=exc.to_block)
        if isinstance(exc, WrongChainError):
            detail.update(expected=exc.expected, actual=exc.actual)
        log.error("indexer halted (%s): %s", reason, exc)
        with contextlib.suppress(Exception):  # a database that is not there yet has no status
            self.store.record_halt(reason, detail)

    def prepare(self) -> CheckpointState:
        """Checks the schema, the chain and the contracts; creates the checkpoint if needed.

        Raises (and records as a halt) :class:`WrongChainError` when the node is not on the
        configured chain, :class:`ChainMismatchError` when the database was indexed from
        another chain or other contracts, :class:`ContractNotDeployedError` when a contract has
        no code.
        """
        require_at_head(self.engine)
        with self._halting():
            return self._prepare()

    def _prepare(self) -> CheckpointState:
        self.chain_id = self.rpc.chain_id()
        require_chain_id(self.chain_id, self.settings.chain_id, "DEPIN_INDEXER_CHAIN_ID")
        self._chain_checked_at = time.monotonic()
        contracts = self.contracts()
        for name, info in contracts.items():
            code = self.rpc.call("eth_getCode", [info["address"], "latest"])
            if not code or code in ("0x", "0x0"):
                raise ContractNotDeployedError(name, str(info["address"]), self.chain_id)
        self._decoder = LogDecoder(
            (name, info["address"], artifacts.abi(name)) for name, info in contracts.items()
        )
        self._reader = LogReader(
            self.rpc,
            self._decoder.addresses,
            initial_range=self.settings.initial_range,
            max_range=self.settings.max_range,
            target_logs=self.settings.target_logs,
        )
        start = min(int(info["block"]) for info in contracts.values())
        checkpoint = self.store.initialize(self.chain_id, contracts, start)
        if checkpoint.epoch_length is None and "AttestationOracle" in contracts:
            length = self._epoch_length(contracts["AttestationOracle"]["address"])
            checkpoint = self.store.record_epoch_length(length)
        return checkpoint

    def _epoch_length(self, address: str) -> int:
        """The AttestationOracle's ``EPOCH_LENGTH`` (an immutable: read once per database),
        through the indexer's retrying RPC like every other read."""
        selector = "0x" + keccak(text="EPOCH_LENGTH()")[:4].hex()
        answer = self.rpc.call("eth_call", [{"to": address, "data": selector}, "latest"])
        return int(str(answer), 16)

    @property
    def reader(self) -> LogReader:
        if self._reader is None:
            self.prepare()
        assert self._reader is not None
        return self._reader

    @property
    def decoder(self) -> LogDecoder:
        if self._decoder is None:
            self.prepare()
        assert self._decoder is not None
        return self._decoder

    def finalized(self, head: int) -> int:
        """The newest block that can no longer reorg, by the configured rule."""
        if self.settings.finality == "finalized":
            header = self.rpc.header("finalized")
            return min(head, header.number) if header else 0
        return max(0, head - int(self.settings.finality))

    def status(self) -> Status:
        checkpoint = self.store.checkpoint()
        head = self.rpc.block_number()
        chain_id = self.rpc.chain_id()
        if checkpoint is None:
            return Status(chain_id, head, -1, self.finalized(head))
        return Status(chain_id, head, checkpoint.indexed_block, self.finalized(head))

    def health(self, *, ask_node: bool = True) -> IndexerHealth:
        """:func:`~indexer.health.read_health`, with the node's head and its hash of the
        checkpoint's block when ``ask_node`` (and the node answers within a few seconds)."""
        head: int | None = None
        canonical: Any = UNCHECKED
        if ask_node:
            checkpoint = self.store.checkpoint()
            quick = Rpc(self.w3, attempts=3, max_wait=1.0, give_up_after=5.0, stop=self.stop)
            try:
                head = quick.block_number()
                if checkpoint is not None and checkpoint.indexed_hash is not None:
                    header = quick.header(checkpoint.indexed_block)
                    canonical = header.hash if header is not None else None
            except (RpcUnavailableError, NodeUnavailableError) as exc:
                log.warning("the node does not answer: %s", exc)
        return read_health(
            self.engine,
            stalled_after=self.settings.stalled_after,
            head_block=head,
            canonical_hash=canonical,
        )

    # ------------------------------------------------------------------ indexing

    def _check_chain(self) -> None:
        """The node behind the URL may change (a load balancer, a DNS change): halt if it now
        serves another chain than the one indexed."""
        if time.monotonic() - self._chain_checked_at < self.chain_check_interval:
            return
        checkpoint = self.store.checkpoint()
        expected = checkpoint.chain_id if checkpoint is not None else self.chain_id
        require_chain_id(self.rpc.chain_id(), expected, f"the inventory (chain {expected})")
        self._chain_checked_at = time.monotonic()

    def sync(self, target: int | None = None, progress: Progress | None = None) -> int:
        """Indexes up to ``target`` (the head by default), handling reorgs on the way.

        Returns the number of events written. Errors no retry heals (a deep reorg, the node on
        another chain) are recorded as a halt before they are raised.
        """
        with self._halting():
            return self._sync(target, progress)

    def _sync(self, target: int | None, progress: Progress | None) -> int:
        reader = self.reader
        self._check_chain()
        written = 0
        while True:
            checkpoint = self.store.checkpoint()
            assert checkpoint is not None
            head = self.rpc.block_number()
            end = head if target is None else min(target, head)
            finalized = self.finalized(head)
            if checkpoint.indexed_hash is not None:
                tip = self.rpc.header(checkpoint.indexed_block)
                if tip is None or tip.hash != checkpoint.indexed_hash:
                    self.handle_reorg()
                    continue
            metrics.INDEXER_HEAD.set(head)
            if checkpoint.indexed_block >= end:
                metrics.INDEXER_INDEXED.set(checkpoint.indexed_block)
                metrics.INDEXER_BEHIND.set(max(0, head - checkpoint.indexed_block))
                now = time.monotonic()
                if head != checkpoint.head_block or now - self._progress_at > PROGRESS_INTERVAL:
                    self.store.record_head(head, finalized)
                    self._progress_at = now
                return written
            try:
                written += self._advance(reader, checkpoint, end, head, finalized, progress)
            except _ChainMoved:
                continue
            if target is not None and self.store.checkpoint().indexed_block >= end:  # type: ignore[union-attr]
                return written

    def _advance(
        self,
        reader: LogReader,
        checkpoint: CheckpointState,
        end: int,
        head: int,
        finalized: int,
        progress: Progress | None,
    ) -> int:
        """Indexes one stretch (all finalized, or one chunk of unfinalized blocks).

        A reader thread fetches and decodes the next ranges while this thread writes, so the
        node, the decoder and the database work at the same time; ranges are still written one
        by one, in order, each in its own transaction.
        """
        start = checkpoint.indexed_block + 1
        if start <= finalized:
            stop = min(end, finalized)
        else:
            stop = min(end, start + UNFINALIZED_CHUNK - 1)
        batches: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=2)
        cancelled = threading.Event()

        def produce() -> None:
            try:
                previous = checkpoint.indexed_hash
                for range_start, range_end, logs in reader.ranges(start, stop):
                    for sub_start, sub_end, sub_logs in _split(
                        range_start, range_end, logs, reader.target_logs // 2
                    ):
                        batch = self._batch(sub_start, sub_end, sub_logs, previous, head, finalized)
                        previous = batch.to_hash
                        while not cancelled.is_set():
                            try:
                                batches.put(batch, timeout=0.1)
                                break
                            except queue.Full:
                                continue
                        if cancelled.is_set():
                            return
                batches.put(None)
            except BaseException as exc:  # handed to the writer, which raises it
                batches.put(exc)

        reader_thread = threading.Thread(target=produce, name="indexer-reader", daemon=True)
        reader_thread.start()
        written = 0
        try:
            while True:
                item = batches.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                count = self.store.write(item)
                written += count
                metrics.INDEXER_EVENTS.inc(count)
                metrics.INDEXER_INDEXED.set(item.to_block)
                metrics.INDEXER_BEHIND.set(max(0, head - item.to_block))
                if progress is not None:
                    progress(item.to_block, end, item.written)
        finally:
            cancelled.set()
            while reader_thread.is_alive():
                with contextlib.suppress(queue.Empty):
                    batches.get(timeout=0.05)
            reader_thread.join()
        return written

    def _batch(
        self,
        start: int,
        end: int,
        logs: list[dict[str, Any]],
        previous_hash: str | None,
        head: int,
        finalized: int,
    ) -> Batch:
        keep = list(range(max(start, finalized), end + 1)) or [end]
        headers = self.rpc.headers(keep)
        if any(h is None for h in headers.values()):
            raise _ChainMoved
        kept: dict[int, Header] = {n: h for n, h in headers.items() if h is not None}
        if end > finalized:
            # unfinalized blocks must link to each other and to the last indexed block
            for number, header in kept.items():
                parent = kept.get(number - 1)
                if parent is not None and header.parent_hash != parent.hash:
                    raise _ChainMoved
            first = kept[keep[0]]
            if first.number == start and previous_hash not in (None, first.parent_hash):
                raise _ChainMoved  # the next step's tip check finds the ancestor
        events = []
        for log in logs:
            if log.get("removed"):
                raise _ChainMoved
            row = self.decoder.decode(log)
            if row is None:
                continue
            known = kept.get(row["block_number"])
            if known is not None and known.hash != row["block_hash"]:
                raise _ChainMoved
            if row["block_time"] is None and known is not None:
                row["block_time"] = known.timestamp
            events.append(row)
        events.sort(key=lambda e: (e["block_number"], e["log_index"]))
        return Batch(
            from_block=start,
            to_block=end,
            to_hash=kept[end].hash,
            events=events,
            headers=list(kept.values()),
            head_block=head,
            finalized_block=finalized,
            to_time=kept[end].timestamp,
        )

    def handle_reorg(self) -> int:
        """Rolls back to the common ancestor; returns it. :class:`DeepReorgError` if none of the
        kept blocks is canonical any more (nothing is written then)."""
        kept = self.store.blocks()
        numbers = sorted(kept, reverse=True)
        chain = self.rpc.headers(numbers)
        checkpoint = self.store.checkpoint()
        assert checkpoint is not None
        for number in numbers:
            header = chain.get(number)
            if header is not None and header.hash == kept[number]:
                restored = self.store.rollback(number)
                metrics.INDEXER_REORGS.inc()
                metrics.INDEXER_REORG_DEPTH.observe(checkpoint.indexed_block - number)
                log.warning(
                    "reorg: rolled back %d blocks (%d-%d) to the common ancestor %d "
                    "(%d rows restored)",
                    checkpoint.indexed_block - number,
                    number + 1,
                    checkpoint.indexed_block,
                    number,
                    restored,
                )
                return number
        lowest = numbers[-1] if numbers else checkpoint.indexed_block
        stored = kept.get(lowest, checkpoint.indexed_hash or "")
        header = chain.get(lowest) if numbers else self.rpc.header(lowest)
        raise DeepReorgError(
            lowest, stored, header.hash if header else None, checkpoint.indexed_block
        )

    def follow(
        self,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        on_step: Callable[[int], None] | None = None,
    ) -> None:
        """Backfills, then follows the head until ``stop`` is set."""
        stop = stop or self.stop
        self.sync(progress=progress)
        while not stop.is_set():
            written = self.sync()
            if on_step is not None:
                on_step(written)
            stop.wait(self.settings.poll_interval)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Empties the inventory and replays every event from the deploy block."""
        require_at_head(self.engine)
        self.store.reset()
        self._reader = None
        self.prepare()
        return self.sync(progress=progress)


def _split(
    start: int, end: int, logs: list[dict[str, Any]], size: int
) -> list[tuple[int, int, list[dict[str, Any]]]]:
    """A large range's logs in pieces of about ``size`` logs, cut at block boundaries, so one
    node response becomes several smaller transactions that overlap with decoding."""
    if len(logs) <= size * 2 or size < 1:
        return [(start, end, logs)]
    pieces: list[tuple[int, int, list[dict[str, Any]]]] = []
    piece_start = start
    begin = 0
    i = size
    while i < len(logs):
        block = logs[i - 1]["blockNumber"]
        while i < len(logs) and logs[i]["blockNumber"] == block:
            i += 1
        if i >= len(logs):
            break
        last = int(block, 16)
        pieces.append((piece_start, last, logs[begin:i]))
        piece_start, begin = last + 1, i
        i += size
    pieces.append((piece_start, end, logs[begin:]))
    return pieces


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
