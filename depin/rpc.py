"""JSON-RPC that rides out what heals and stops on what does not.

Every role reaches the node through :class:`RetryingHTTPProvider` (built by
:func:`depin.chain.connect`); the indexer's raw reader uses the same :class:`Retrier` and the
same classification. A failure is *transient* when waiting can heal it:

- ``lag``: a load-balanced node behind its peers (JSON-RPC ``-32000`` "header not found",
  "missing trie node", "unknown block", ... see :data:`LAG_ERRORS`);
- ``rate_limited``: HTTP 429 (its ``Retry-After`` is honoured) or a JSON-RPC rate-limit error;
- ``server_error``: HTTP 5xx;
- ``timeout``: the HTTP request timed out (or HTTP 408);
- ``rpc_timeout``: the node answered that the request timed out on its side;
- ``connection``: connection refused, reset or cut mid-answer;
- ``malformed``: an answer that is not a JSON-RPC response (an HTML error page, broken JSON).

Transient failures are retried with exponential backoff and jitter for as long as they last,
up to :attr:`RetryPolicy.give_up_after` seconds in all (then :class:`NodeUnavailableError`); a
``stop`` event ends the wait at once (:class:`RetryInterruptedError`). Every retry is counted
by kind in a :class:`RetryCounter` (:data:`RETRIES` for the whole process).

Only calls that are safe to repeat are retried (:data:`SAFE_METHODS`, all reads). The one write
retried is ``eth_sendRawTransaction``: a signed transaction has one hash, so sending it twice
cannot spend twice. When a repeat is answered "already known" the first attempt reached the
node, and the hash is returned; "nonce too low" after a repeat means the first attempt may
already be mined, so the hash is returned if the node knows the transaction, and the error
stands otherwise. Anything else (``eth_sendTransaction``, ``evm_*``, ``anvil_*``, filters) is
sent once.

Errors that cannot heal are raised at once, by name: :class:`~depin.errors.WrongChainError`
(:func:`require_chain_id`) and :class:`~depin.errors.ContractNotDeployedError`
(:func:`require_code`).
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from eth_utils import keccak
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from tenacity import RetryCallState, Retrying, retry_if_exception_type
from web3 import Web3
from web3.providers import HTTPProvider

from depin.errors import (
    ContractNotDeployedError,
    NodeUnavailableError,
    RetryInterruptedError,
    WrongChainError,
)

log = logging.getLogger("depin.rpc")

T = TypeVar("T")

# --------------------------------------------------------------------------- kinds

LAG = "lag"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
TIMEOUT = "timeout"
RPC_TIMEOUT = "rpc_timeout"
CONNECTION = "connection"
MALFORMED = "malformed"
#: every kind of transient failure
KINDS = (LAG, RATE_LIMITED, SERVER_ERROR, TIMEOUT, RPC_TIMEOUT, CONNECTION, MALFORMED)

#: messages (JSON-RPC ``-32000`` mostly) of a node that has not caught up with the block asked
#: about yet, or whose state for it is still being written: another node behind the same load
#: balancer, or the same one a moment later, answers.
LAG_ERRORS = (
    "header not found",  # geth, bor
    "missing trie node",  # geth: state not (yet) available at that root
    "unknown block",  # geth, nethermind, reth
    "block not found",  # erigon, besu
    "block .* not found",  # "block 0x... not found"
    "unknown header",
    "no such block",
    "block not available",
    "requested block .* (?:not|isn't) (?:yet )?available",
    "block .* is not yet available",
    "block height .* (?:is )?(?:greater|higher) than",  # asked beyond the node's head
    "after last accepted block",  # avalanche
    "request beyond head block",
    "cannot query unfinalized data",
    "state (?:is )?not (?:yet )?available",
    "leveldb: not found",
    "syncing",
)
_LAG = re.compile("|".join(LAG_ERRORS), re.IGNORECASE)
#: a node that says it gave up on the request in time
RPC_TIMEOUT_ERRORS = ("timeout", "timed out", "deadline exceeded", "execution aborted")
_RPC_TIMEOUT = re.compile("|".join(RPC_TIMEOUT_ERRORS), re.IGNORECASE)
#: rate limits reported in a JSON-RPC error (with HTTP 200)
RATE_LIMIT_ERRORS = (
    "rate limit",
    "rate-limit",
    "too many requests",
    "exceeded .* capacity",
    "compute units",
    "request limit",
)
_RATE_LIMIT = re.compile("|".join(RATE_LIMIT_ERRORS), re.IGNORECASE)
_RATE_LIMIT_CODES = {-32005, -32029, 429}

#: methods that only read: repeating them changes nothing
SAFE_METHODS = frozenset(
    {
        "web3_clientVersion",
        "net_version",
        "net_listening",
        "net_peerCount",
        "eth_chainId",
        "eth_syncing",
        "eth_protocolVersion",
        "eth_accounts",
        "eth_blockNumber",
        "eth_gasPrice",
        "eth_maxPriorityFeePerGas",
        "eth_blobBaseFee",
        "eth_feeHistory",
        "eth_getBalance",
        "eth_getCode",
        "eth_getStorageAt",
        "eth_getProof",
        "eth_getTransactionCount",
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getBlockReceipts",
        "eth_getBlockTransactionCountByHash",
        "eth_getBlockTransactionCountByNumber",
        "eth_getUncleCountByBlockHash",
        "eth_getUncleCountByBlockNumber",
        "eth_getTransactionByHash",
        "eth_getTransactionByBlockHashAndIndex",
        "eth_getTransactionByBlockNumberAndIndex",
        "eth_getTransactionReceipt",
        "eth_getLogs",
        "eth_call",
        "eth_estimateGas",
        "eth_createAccessList",
    }
)
#: the one write retried: idempotent by the transaction's hash
SEND_RAW = "eth_sendRawTransaction"
_ALREADY_KNOWN = re.compile(
    r"already known|known transaction|already imported|already exists|already in (?:the )?pool|"
    r"alreadyknown|already_exists",
    re.IGNORECASE,
)
_NONCE_TOO_LOW = re.compile(r"nonce too low|nonce has already been used|oldnonce", re.IGNORECASE)


def retryable_method(method: str) -> bool:
    """Whether a failed ``method`` call may be sent again."""
    return method in SAFE_METHODS or method == SEND_RAW


# --------------------------------------------------------------------------- policy, counter


class RetrySettings(BaseSettings):
    """``DEPIN_RPC_MAX_WAIT``: how long any role waits out a failing node before it gives up."""

    model_config = SettingsConfigDict(env_prefix="DEPIN_RPC_", extra="ignore")

    max_wait: float = Field(
        default=600.0, gt=0, description="seconds a failing request is retried, in all"
    )
    max_backoff: float = Field(default=10.0, gt=0, description="longest pause between tries")


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry.

    Attributes:
        give_up_after: seconds (from the first try) after which a transient failure is final.
        initial_wait: the first pause; each next one doubles, plus up to as much jitter.
        max_backoff: the longest pause (a ``Retry-After`` may ask for more, within the budget).
        attempts: the most tries, or None to try for as long as ``give_up_after`` allows.
    """

    give_up_after: float = 600.0
    initial_wait: float = 0.1
    max_backoff: float = 10.0
    attempts: int | None = None

    @classmethod
    def from_env(cls) -> RetryPolicy:
        settings = RetrySettings()
        return cls(give_up_after=settings.max_wait, max_backoff=settings.max_backoff)


class RetryCounter:
    """Retries by kind, safe to share between threads; read it for metrics.

    A counter with a ``parent`` (by default :data:`RETRIES`) counts there too, so one
    connection's retries can be checked alone while the process total stays complete.
    """

    def __init__(self, parent: RetryCounter | None = None) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.parent = parent

    def add(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1
        if self.parent is not None:
            self.parent.add(kind)

    def __getitem__(self, kind: str) -> int:
        with self._lock:
            return self._counts[kind]

    def snapshot(self) -> dict[str, int]:
        """``{kind: retries}`` so far."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


#: every retry this process made, by kind
RETRIES = RetryCounter(parent=None)


# --------------------------------------------------------------------------- classification


class Transient(Exception):
    """A failure that waiting may heal: retried while the policy allows."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


def transient_from_exception(exc: BaseException) -> Transient | None:
    """The transient failure ``exc`` (raised while sending a request) is, or None."""
    if isinstance(exc, Transient):
        return exc
    if isinstance(exc, requests.HTTPError):
        response = exc.response
        status = response.status_code if response is not None else 0
        if status == 429:
            return Transient(RATE_LIMITED, "HTTP 429", _retry_after(response))
        if status == 408:
            return Transient(TIMEOUT, "HTTP 408")
        if status >= 500:
            return Transient(SERVER_ERROR, f"HTTP {status}", _retry_after(response))
        return None
    if isinstance(exc, requests.Timeout):
        return Transient(TIMEOUT, f"timed out: {exc}")
    if isinstance(
        exc,
        requests.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | http.client.HTTPException
        | ConnectionError,
    ):
        return Transient(CONNECTION, f"connection failed: {exc}")
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError | requests.JSONDecodeError):
        return Transient(MALFORMED, f"malformed answer: {str(exc)[:200]}")
    if isinstance(exc, TimeoutError):
        return Transient(TIMEOUT, f"timed out: {exc}")
    if isinstance(exc, OSError):
        return Transient(CONNECTION, f"connection failed: {exc}")
    return None


def error_message(error: Any) -> tuple[int | None, str]:
    """``(code, message)`` of a JSON-RPC error object."""
    if isinstance(error, Mapping):
        code = error.get("code")
        message = str(error.get("message", error))
        data = error.get("data")
        if isinstance(data, str) and data and data not in message:
            message = f"{message}: {data}"
        return (code if isinstance(code, int) else None), message
    return None, str(error)


def transient_from_error(error: Any) -> Transient | None:
    """The transient failure a JSON-RPC error object reports, or None."""
    code, message = error_message(error)
    if code == 3 or "revert" in message.lower():
        return None  # the contract said no: asking again gets the same answer
    if _RATE_LIMIT.search(message) or (
        code in _RATE_LIMIT_CODES
        and re.search("limit|rate|capacity", message, re.IGNORECASE)
        and not re.search("result|response size|more than", message, re.IGNORECASE)
    ):
        return Transient(RATE_LIMITED, f"rate limited: {message}")
    if _RPC_TIMEOUT.search(message):
        return Transient(RPC_TIMEOUT, f"the node timed out: {message}")
    if _LAG.search(message):
        return Transient(LAG, f"the node is behind: {message}")
    return None


def transient_from_response(response: Any) -> Transient | None:
    """The transient failure a decoded JSON-RPC answer (or batch of answers) is, or None."""
    if isinstance(response, list):
        if not response:
            return Transient(MALFORMED, "an empty batch answer")
        for item in response:
            found = transient_from_response(item)
            if found is not None:
                return found
        return None
    if not isinstance(response, Mapping):
        return Transient(MALFORMED, f"not a JSON-RPC answer: {str(response)[:200]}")
    if "error" in response and response["error"] is not None:
        return transient_from_error(response["error"])
    if "result" not in response:
        return Transient(MALFORMED, f"no result in the answer: {str(response)[:200]}")
    return None


def _retry_after(response: requests.Response | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number of seconds or an HTTP date)."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - time.time())


# --------------------------------------------------------------------------- retrying


GiveUp = Callable[[str, Transient, int, float], Exception]


def _node_unavailable(method: str, last: Transient, tries: int, waited: float) -> Exception:
    return NodeUnavailableError(method, last.message, tries, waited, last.kind)


class Retrier:
    """Runs one request again while it fails transiently (see the module docstring)."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        counter: RetryCounter | None = None,
        stop: threading.Event | None = None,
        give_up: GiveUp = _node_unavailable,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.counter = counter if counter is not None else RetryCounter(parent=RETRIES)
        self.stop = stop or threading.Event()
        self.give_up = give_up

    def call(self, method: str, attempt: Callable[[int], T]) -> T:
        """``attempt(try_number)``, again while it raises :class:`Transient`.

        Raises ``give_up(...)`` (:class:`NodeUnavailableError` by default) once the policy is
        spent, :class:`RetryInterruptedError` if ``stop`` is set while waiting.
        """
        policy = self.policy
        started = time.monotonic()
        tries = 0

        def wait(state: RetryCallState) -> float:
            exponential = policy.initial_wait * 2.0 ** min(state.attempt_number - 1, 30)
            pause = min(policy.max_backoff, exponential)
            pause += policy.initial_wait * _jitter()
            outcome = state.outcome
            failure = outcome.exception() if outcome is not None else None
            if isinstance(failure, Transient) and failure.retry_after is not None:
                pause = max(pause, failure.retry_after)
            return pause

        def stop(state: RetryCallState) -> bool:
            if self.stop.is_set():
                return True
            if policy.attempts is not None and state.attempt_number >= policy.attempts:
                return True
            elapsed = time.monotonic() - started
            return elapsed + (state.upcoming_sleep or 0.0) > policy.give_up_after

        def sleep(seconds: float) -> None:
            if self.stop.wait(seconds):
                raise RetryInterruptedError(method)

        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            failure = outcome.exception() if outcome is not None else None
            kind = failure.kind if isinstance(failure, Transient) else "unknown"
            self.counter.add(kind)
            log.debug(
                "%s: %s; try %d in %.2fs",
                method,
                failure,
                state.attempt_number + 1,
                state.upcoming_sleep,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(Transient),
            wait=wait,
            stop=stop,
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            for step in retrying:
                with step:
                    tries = step.retry_state.attempt_number
                    return attempt(tries)
        except Transient as last:
            if self.stop.is_set():
                raise RetryInterruptedError(method) from last
            raise self.give_up(method, last, tries, time.monotonic() - started) from last
        raise AssertionError("unreachable")  # pragma: no cover


_random = random.Random()


def _jitter() -> float:
    return _random.random()


# --------------------------------------------------------------------------- the provider


class RetryingHTTPProvider(HTTPProvider):
    """web3's HTTP provider with :class:`Retrier` around every call that is safe to repeat.

    web3's own retries are off (they would multiply ours); see the module docstring for what
    is retried and what is sent once.
    """

    def __init__(
        self,
        endpoint_uri: str,
        request_kwargs: dict[str, Any] | None = None,
        *,
        policy: RetryPolicy | None = None,
        counter: RetryCounter | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        super().__init__(
            endpoint_uri, request_kwargs=request_kwargs, exception_retry_configuration=None
        )
        self.retrier = Retrier(policy or RetryPolicy.from_env(), counter, stop)

    @property
    def retries(self) -> RetryCounter:
        return self.retrier.counter

    def _once(self, method: Any, params: Any) -> Any:
        send = super().make_request
        return _transient_raised(lambda: send(method, params))

    def make_request(self, method: Any, params: Any) -> Any:
        name = str(method)
        if not retryable_method(name):
            return super().make_request(method, params)
        if name == SEND_RAW:
            return self._send_raw(method, params)
        return self.retrier.call(name, lambda _try: self._once(method, params))

    def _send_raw(self, method: Any, params: Any) -> Any:
        repeated = False

        def attempt(number: int) -> Any:
            nonlocal repeated
            repeated = number > 1
            return self._once(method, params)

        response = self.retrier.call(SEND_RAW, attempt)
        error = response.get("error") if isinstance(response, Mapping) else None
        if not error or not repeated:
            return response
        _code, message = error_message(error)
        tx_hash = _raw_hash(params)
        if tx_hash is None:
            return response
        if _ALREADY_KNOWN.search(message):
            log.info("%s: a repeat found %s already known: sent", SEND_RAW, tx_hash)
            return _result(response, tx_hash)
        if _NONCE_TOO_LOW.search(message):
            known = self.make_request("eth_getTransactionByHash", [tx_hash])
            if isinstance(known, Mapping) and known.get("result"):
                log.info("%s: a repeat found %s already mined: sent", SEND_RAW, tx_hash)
                return _result(response, tx_hash)
        return response

    def make_batch_request(self, batch_requests: list[tuple[Any, Any]]) -> Any:
        if not all(str(m) in SAFE_METHODS for m, _ in batch_requests):
            return super().make_batch_request(batch_requests)

        send = super().make_batch_request
        return self.retrier.call(
            "batch", lambda _try: _transient_raised(lambda: send(batch_requests))
        )


def _transient_raised(send: Callable[[], Any]) -> Any:
    """``send``'s response, or the transient error that its exception or its response is."""
    try:
        response = send()
    except Exception as exc:
        transient = transient_from_exception(exc)
        if transient is None:
            raise
        raise transient from exc
    transient = transient_from_response(response)
    if transient is not None:
        raise transient
    return response


def _raw_hash(params: Any) -> str | None:
    if not isinstance(params, list | tuple) or not params:
        return None
    raw = params[0]
    if isinstance(raw, str):
        try:
            raw = bytes.fromhex(raw[2:] if raw.startswith("0x") else raw)
        except ValueError:
            return None
    if not isinstance(raw, bytes | bytearray):
        return None
    return "0x" + keccak(bytes(raw)).hex()


def _result(response: Mapping[str, Any], value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": response.get("id"), "result": value}


# --------------------------------------------------------------------------- checks that stop


def require_chain_id(actual: int, expected: int | None, where: str) -> None:
    """Raises :class:`WrongChainError` if ``expected`` is set and differs from ``actual``."""
    if expected is not None and int(actual) != int(expected):
        raise WrongChainError(expected=int(expected), actual=int(actual), where=where)


def require_code(w3: Web3, contracts: Iterable[tuple[str, str]], chain_id: int) -> None:
    """Raises :class:`ContractNotDeployedError` for the first ``(name, address)`` without
    code on the node."""
    for name, address in contracts:
        code = w3.eth.get_code(Web3.to_checksum_address(address))
        if not code or bytes(code) in (b"", b"\x00"):
            raise ContractNotDeployedError(name, address, chain_id)
