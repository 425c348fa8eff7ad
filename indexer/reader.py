"""Reading the chain: raw JSON-RPC with retries, and eth_getLogs over adaptive block ranges.

Transport failures (connection refused or reset, HTTP 5xx/429, malformed responses) are retried
with exponential backoff (tenacity); they are safe to repeat because every call is a read.
A node that refuses a range (too many results, response too large, a timeout) gets it in halves;
a range that returns few logs makes the next one larger. A single block the node refuses is read
from its receipts instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from web3 import Web3

from indexer.errors import RangeTooLargeError, RpcError, RpcUnavailableError

_TOO_LARGE = re.compile(
    r"too many|more than|limit|exceed|too large|too big|range|size|timeout|timed out|"
    r"response is too|payload",
    re.IGNORECASE,
)
_BLOCK_LIMIT = re.compile(r"block range|range too|blocks? limit|max.*blocks", re.IGNORECASE)
_TOO_LARGE_CODES = {-32005}  # "limit exceeded" (EIP-1474)
_UNSUPPORTED = re.compile(
    r"not found|not supported|unsupported|does not exist|unknown method", re.IGNORECASE
)


class _Transport(Exception):
    """A failure worth retrying as is."""


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class Rpc:
    """Raw JSON-RPC over a web3 provider, with retries on transport errors only."""

    def __init__(
        self,
        w3: Web3,
        *,
        attempts: int = 8,
        max_wait: float = 10.0,
        initial_wait: float = 0.1,
    ) -> None:
        self.w3 = w3
        self.attempts = attempts
        self.max_wait = max_wait
        self.initial_wait = initial_wait
        self.retries = 0

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(_Transport),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.initial_wait, max=self.max_wait, jitter=self.initial_wait
            ),
            reraise=True,
            before_sleep=self._count,
        )

    def _count(self, _state: Any) -> None:
        self.retries += 1

    def _once(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except requests.Timeout as exc:
            raise RangeTooLargeError(method, f"timed out: {exc}") from exc
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 413:
                raise RangeTooLargeError(method, f"HTTP {status}") from exc
            if status >= 500 or status in (408, 429):
                raise _Transport(f"HTTP {status}") from exc
            raise RpcError(method, f"HTTP {status}: {exc}") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise _Transport(str(exc)) from exc
        except (ValueError, OSError) as exc:  # malformed JSON, socket errors
            raise _Transport(str(exc)) from exc
        error = response.get("error")
        if error:
            message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
            code = error.get("code") if isinstance(error, dict) else None
            if code in _TOO_LARGE_CODES or _TOO_LARGE.search(message):
                raise RangeTooLargeError(method, message)
            if code in (-32603, -32000) and "timeout" in message.lower():
                raise RangeTooLargeError(method, message)
            raise RpcError(method, message)
        if "result" not in response:
            raise _Transport(f"no result in response: {str(response)[:200]}")
        return response["result"]

    def call(self, method: str, params: list[Any], *, retry_timeouts: bool = True) -> Any:
        """``method(params)``'s result; a timeout of a non-range call is retried like a
        transport error unless ``retry_timeouts`` is false."""
        try:
            for attempt in self._retrying():
                with attempt:
                    try:
                        return self._once(method, params)
                    except RangeTooLargeError:
                        if retry_timeouts and method != "eth_getLogs":
                            raise _Transport(f"{method} timed out") from None
                        raise
        except _Transport as exc:
            raise RpcUnavailableError(method, f"{exc} (after {self.attempts} tries)") from exc
        raise AssertionError("unreachable")  # pragma: no cover

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
            try:
                for attempt in self._retrying():
                    with attempt:
                        try:
                            responses = provider.make_batch_request(batch)
                        except (requests.RequestException, ValueError, OSError) as exc:
                            raise _Transport(str(exc)) from exc
                        if not isinstance(responses, list) or len(responses) != len(numbers):
                            raise _Transport("batch response of the wrong shape")
                        by_id = sorted(responses, key=lambda r: int(r.get("id", 0)))
                        if any("error" in r for r in by_id):
                            raise _Transport(f"batch error: {by_id}")
                        return [r.get("result") for r in by_id]
            except _Transport:
                pass  # some nodes or proxies refuse batches: one call per block
        return [self.call("eth_getBlockByNumber", [hex(n), False]) for n in numbers]


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
