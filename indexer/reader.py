"""Reading the chain: raw JSON-RPC with retries, and eth_getLogs over adaptive block ranges.

Every call goes through :class:`depin.rpc.Retrier`, the retry layer every role shares: what
heals (a lagging node's "header not found", HTTP 429/5xx, timeouts, resets, broken answers) is
retried with exponential backoff for as long as the policy allows; every call here is a read, so
all are safe to repeat. A node that refuses an eth_getLogs range (too many results, response
too large, a timeout) gets it in halves instead; a range that returns few logs makes the next
one larger. A single block the node refuses is read from its receipts instead.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import requests
from web3 import Web3

from depin import rpc as retry
from depin.errors import NodeUnavailableError
from indexer.errors import RangeTooLargeError, RpcError, RpcUnavailableError

_TOO_LARGE = re.compile(
    r"too many|more than|limit|exceed|too large|too big|range|size|timeout|timed out|"
    r"response is too|payload",
    re.IGNORECASE,
)
_BLOCK_LIMIT = re.compile(r"block range|range too|blocks? limit|max.*blocks", re.IGNORECASE)
_TOO_LARGE_CODES = {-32005}  # "limit exceeded" (EIP-1474)
_RATE_LIMITED = re.compile("|".join(retry.RATE_LIMIT_ERRORS), re.IGNORECASE)
_LAGGING = re.compile("|".join(retry.LAG_ERRORS), re.IGNORECASE)
_UNSUPPORTED = re.compile(
    r"not found|not supported|unsupported|does not exist|unknown method", re.IGNORECASE
)
#: methods whose refusal for size is answered by asking for less, not by asking again
_SPLITTABLE = frozenset({"eth_getLogs"})


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


def _unavailable(method: str, last: retry.Transient, tries: int, waited: float) -> Exception:
    return RpcUnavailableError(
        method, f"{last.message} (after {tries} tries in {waited:.1f}s)", kind=last.kind
    )


class Rpc:
    """Raw JSON-RPC over a web3 provider, retried by :class:`depin.rpc.Retrier`.

    Attributes:
        counter: retries by kind (:class:`depin.rpc.RetryCounter`, counted into
            :data:`depin.rpc.RETRIES` too).
        stop: set it to end any wait for a retry at once (:class:`RetryInterruptedError`).
    """

    def __init__(
        self,
        w3: Web3,
        *,
        attempts: int | None = None,
        max_wait: float = 10.0,
        initial_wait: float = 0.1,
        give_up_after: float = 600.0,
        stop: threading.Event | None = None,
        counter: retry.RetryCounter | None = None,
    ) -> None:
        self.w3 = w3
        self.counter = counter if counter is not None else retry.RetryCounter(retry.RETRIES)
        self.stop = stop or threading.Event()
        policy = retry.RetryPolicy(
            give_up_after=give_up_after,
            initial_wait=initial_wait,
            max_backoff=max_wait,
            attempts=attempts,
        )
        self.retrier = retry.Retrier(policy, self.counter, self.stop, give_up=_unavailable)

    @property
    def attempts(self) -> int | None:
        """The most tries per call (None: as many as the time budget allows)."""
        return self.retrier.policy.attempts

    @attempts.setter
    def attempts(self, value: int | None) -> None:
        self.retrier.policy = replace(self.retrier.policy, attempts=value)

    @property
    def retries(self) -> int:
        """Retries so far, of every kind."""
        return self.counter.total

    def _once(self, method: str, params: list[Any], splittable: bool) -> Any:
        try:
            response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except requests.Timeout as exc:
            if splittable:
                raise RangeTooLargeError(method, f"timed out: {exc}") from exc
            raise retry.Transient(retry.TIMEOUT, f"timed out: {exc}") from exc
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 413:
                raise RangeTooLargeError(method, f"HTTP {status}") from exc
            transient = retry.transient_from_exception(exc)
            if transient is not None:
                raise transient from exc
            raise RpcError(method, f"HTTP {status}: {exc}") from exc
        except Exception as exc:
            transient = retry.transient_from_exception(exc)
            if transient is not None:
                raise transient from exc
            raise
        if not isinstance(response, dict):
            raise retry.Transient(retry.MALFORMED, f"not a JSON-RPC answer: {response!r:.200}")
        error = response.get("error")
        if error:
            code, message = retry.error_message(error)
            too_large = code in _TOO_LARGE_CODES or _TOO_LARGE.search(message)
            healing = _LAGGING.search(message) or _RATE_LIMITED.search(message)
            if splittable and too_large and not healing:
                raise RangeTooLargeError(method, message)
            transient = retry.transient_from_error(error)
            if transient is not None:
                raise transient
            raise RpcError(method, message)
        if "result" not in response:
            raise retry.Transient(retry.MALFORMED, f"no result in the answer: {response!r:.200}")
        return response["result"]

    def call(self, method: str, params: list[Any], *, retry_timeouts: bool = True) -> Any:
        """``method(params)``'s result, retried while it fails transiently.

        eth_getLogs (and any call with ``retry_timeouts`` false) raises
        :class:`RangeTooLargeError` when the node refuses it for its size or times out: the
        caller asks for less instead. :class:`RpcUnavailableError` once retries are spent.
        """
        splittable = method in _SPLITTABLE or not retry_timeouts
        return self.retrier.call(method, lambda _try: self._once(method, params, splittable))

    # ------------------------------------------------------------------ typed helpers

    def chain_id(self) -> int:
        return int(self.call("eth_chainId", []), 16)

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    def header(self, block: int | str) -> Header | None:
        tag = hex(block) if isinstance(block, int) else block
        raw = self.call("eth_getBlockByNumber", [tag, False])
        return _header(raw) if raw else None

    def headers(self, numbers: Sequence[int]) -> dict[int, Header | None]:
        """Headers of ``numbers`` (None where the block does not exist), batched."""
        found: dict[int, Header | None] = {}
        for start in range(0, len(numbers), 100):
            chunk = list(numbers[start : start + 100])
            for number, raw in zip(chunk, self._batch_blocks(chunk), strict=True):
                found[number] = _header(raw) if raw else None
        return found

    def _batch_blocks(self, numbers: list[int]) -> list[Any]:
        provider: Any = self.w3.provider
        batch = [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        if len(numbers) > 1 and hasattr(provider, "make_batch_request"):

            def once(_try: int) -> list[Any]:
                try:
                    responses = provider.make_batch_request(batch)
                except Exception as exc:
                    transient = retry.transient_from_exception(exc)
                    if transient is None:
                        raise
                    raise transient from exc
                if not isinstance(responses, list) or len(responses) != len(numbers):
                    raise _BatchRefused
                transient = retry.transient_from_response(responses)
                if transient is not None:
                    raise transient
                if any("error" in r for r in responses):
                    raise _BatchRefused
                by_id = sorted(responses, key=lambda r: int(r.get("id", 0)))
                return [r.get("result") for r in by_id]

            # a few tries only: one call per block (retried in full) is the way round a batch
            # that keeps failing
            batch_retrier = retry.Retrier(
                replace(self.retrier.policy, attempts=3), self.counter, self.stop
            )
            try:
                return batch_retrier.call("batch eth_getBlockByNumber", once)
            except (_BatchRefused, NodeUnavailableError):
                pass  # some nodes or proxies refuse batches: one call per block
        return [self.call("eth_getBlockByNumber", [hex(n), False]) for n in numbers]


class _BatchRefused(Exception):
    """The node does not answer batches (or answered this one in part)."""


def _header(raw: dict[str, Any]) -> Header:
    return Header(
        number=int(raw["number"], 16),
        hash=str(raw["hash"]).lower(),
        parent_hash=str(raw["parentHash"]).lower(),
        timestamp=int(raw["timestamp"], 16),
    )


class LogReader:
    """eth_getLogs for a set of addresses over block ranges that adapt to the node."""

    def __init__(
        self,
        rpc: Rpc,
        addresses: Sequence[str],
        *,
        initial_range: int = 2_000,
        max_range: int = 200_000,
        target_logs: int = 10_000,
    ) -> None:
        self.rpc = rpc
        self.addresses = list(addresses)
        self.range = initial_range
        self.max_range = max_range
        self.target_logs = target_logs
        self.splits = 0
        #: blocks read from their receipts (more logs than the node returns at once)
        self.receipt_reads = 0

    def get_logs(self, from_block: int, to_block: int) -> list[dict[str, Any]]:
        """One eth_getLogs request (raw logs); :class:`RangeTooLargeError` if refused."""
        params = [
            {"address": self.addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        ]
        result = self.rpc.call("eth_getLogs", params)
        if not isinstance(result, list):
            raise RpcError("eth_getLogs", f"unexpected result {str(result)[:200]}")
        return result

    def block_logs(self, number: int) -> list[dict[str, Any]]:
        """Every log of our addresses in block ``number``, from its receipts.

        ``eth_getBlockReceipts`` where the node has it (geth, erigon, reth, nethermind, anvil
        and most providers), else one ``eth_getTransactionReceipt`` per transaction.
        """
        self.receipt_reads += 1
        try:
            receipts = self.rpc.call("eth_getBlockReceipts", [hex(number)], retry_timeouts=False)
        except RangeTooLargeError:
            receipts = None  # the receipts are too big for one answer too
        except RpcError as exc:
            if not _UNSUPPORTED.search(str(exc)):
                raise
            receipts = None
        if receipts is None:
            block = self.rpc.call("eth_getBlockByNumber", [hex(number), False])
            if block is None:
                raise RpcError("eth_getBlockByNumber", f"block {number} is unknown to the node")
            receipts = [
                self.rpc.call("eth_getTransactionReceipt", [tx]) for tx in block["transactions"]
            ]
        wanted = {a.lower() for a in self.addresses}
        logs = [
            log
            for receipt in receipts
            if receipt is not None
            for log in receipt.get("logs", [])
            if str(log.get("address", "")).lower() in wanted
        ]
        logs.sort(key=lambda log: int(log["logIndex"], 16))
        return logs

    def ranges(
        self, from_block: int, to_block: int
    ) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
        """Consecutive ``(start, end, logs)`` covering ``[from_block, to_block]``, in order."""
        start = from_block
        while start <= to_block:
            end = min(to_block, start + self.range - 1)
            try:
                logs = self.get_logs(start, end)
            except RangeTooLargeError as exc:
                if end == start:
                    # One block holds more logs than the node returns at once: read them from
                    # the block's receipts, which no result cap applies to.
                    yield start, end, self.block_logs(start)
                    self.range = 1
                    start = end + 1
                    continue
                self.splits += 1
                span = end - start + 1
                if _BLOCK_LIMIT.search(str(exc)):
                    # a limit on blocks, not on results: never grow past it again
                    self.max_range = min(self.max_range, span - 1)
                self.range = max(1, span // 2)
                continue
            yield start, end, logs
            self._adapt(end - start + 1, len(logs))
            start = end + 1

    def _adapt(self, span: int, count: int) -> None:
        if count > self.target_logs:
            self.range = max(1, int(span * self.target_logs / count))
        elif count < self.target_logs // 2 and span >= self.range:
            grow = 2 if count else 4
            if count:
                grow = min(grow, max(1, self.target_logs // max(count, 1)))
            self.range = min(self.max_range, max(self.range, span) * max(grow, 1))
