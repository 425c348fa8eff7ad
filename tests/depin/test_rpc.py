"""The retrying JSON-RPC layer every role connects through (depin.rpc, depin.chain.connect).

A scripted JSON-RPC server answers each request with the next scripted failure, then with a
healthy answer; no chain is needed.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from eth_utils import keccak
from web3 import Web3

from depin.chain import connect, free_port
from depin.errors import (
    ChainError,
    NodeUnavailableError,
    RetryInterruptedError,
    WrongChainError,
)
from depin.rpc import (
    RETRIES,
    Retrier,
    RetryCounter,
    RetryingHTTPProvider,
    RetryPolicy,
    Transient,
    retryable_method,
    transient_from_error,
    transient_from_exception,
    transient_from_response,
)

CHAIN_ID = 31337
FAST = RetryPolicy(give_up_after=5.0, initial_wait=0.01, max_backoff=0.05)

Reply = tuple[int, dict[str, str], bytes] | None  # None: reset the connection


def _rpc_error(code: int, message: str) -> Callable[[dict[str, Any]], Reply]:
    def reply(call: dict[str, Any]) -> Reply:
        body = {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": code, "message": message}}
        return 200, {}, json.dumps(body).encode()

    return reply


def _http(status: int, body: bytes = b"", **headers: str) -> Callable[[dict[str, Any]], Reply]:
    return lambda _call: (status, dict(headers), body)


def _reset(_call: dict[str, Any]) -> Reply:
    return None


class ScriptedNode:
    """Answers each request with the next scripted reply, then as a healthy node would."""

    def __init__(self) -> None:
        self.script: list[Callable[[dict[str, Any]], Reply]] = []
        self.seen: list[str] = []
        self.results: dict[str, Any] = {"eth_chainId": hex(CHAIN_ID), "eth_blockNumber": "0x10"}
        self.port = free_port()
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                call = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                node.seen.append(str(call.get("method")))
                reply = node.script.pop(0)(call) if node.script else node.healthy(call)
                if reply is None:
                    linger = struct.pack("ii", 1, 0)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    self.close_connection = True
                    self.connection.close()
                    return
                status, headers, body = reply
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self, call: dict[str, Any]) -> Reply:
        result = self.results.get(str(call.get("method")))
        if callable(result):
            result = result(call)
        body = {"jsonrpc": "2.0", "id": call.get("id"), "result": result}
        return 200, {}, json.dumps(body).encode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def node() -> Iterator[ScriptedNode]:
    scripted = ScriptedNode()
    yield scripted
    scripted.stop()


def _web3(node: ScriptedNode, policy: RetryPolicy = FAST, **kwargs: Any) -> Web3:
    provider = RetryingHTTPProvider(
        node.url,
        request_kwargs={"timeout": 2},
        policy=policy,
        counter=RetryCounter(RETRIES),
        **kwargs,
    )
    return Web3(provider)


def _counter(w3: Web3) -> RetryCounter:
    provider = w3.provider
    assert isinstance(provider, RetryingHTTPProvider)
    return provider.retries


# --------------------------------------------------------------------------- each kind retried


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (_http(429, b'{"error":"slow down"}', **{"Retry-After": "0"}), "rate_limited"),
        (_http(200, b"<html>bad gateway</html>"), "malformed"),
        (_http(200, b'{"jsonrpc": "2.0", "id": 1'), "malformed"),
        (_rpc_error(-32002, "request timed out"), "rpc_timeout"),
        (_rpc_error(-32000, "execution aborted (timeout = 5s)"), "rpc_timeout"),
        (_rpc_error(-32000, "header not found"), "lag"),
        (_rpc_error(-32000, "missing trie node 1a2b (path )"), "lag"),
        (_rpc_error(-32000, "unknown block"), "lag"),
        (_rpc_error(-32005, "rate limit exceeded"), "rate_limited"),
        (_http(502, b"<html>bad gateway</html>"), "server_error"),
        (_http(503, b"", **{"Retry-After": "0"}), "server_error"),
        (_reset, "connection"),
    ],
    ids=[
        "429",
        "html-body",
        "truncated-json",
        "rpc-timeout",
        "execution-aborted",
        "header-not-found",
        "missing-trie-node",
        "unknown-block",
        "rpc-rate-limit",
        "502",
        "503",
        "reset",
    ],
)
def test_a_failure_that_heals_is_retried_and_counted_by_kind(
    node: ScriptedNode, failure: Callable[[dict[str, Any]], Reply], kind: str
) -> None:
    w3 = _web3(node)
    before = RETRIES[kind]
    node.script = [failure, failure]
    assert w3.eth.block_number == 16
    assert node.seen == ["eth_blockNumber"] * 3
    assert _counter(w3).snapshot() == {kind: 2}
    assert RETRIES[kind] - before >= 2  # the process-wide counter sees it too


def test_a_timeout_is_retried(node: ScriptedNode) -> None:
    def slow(call: dict[str, Any]) -> Reply:
        time.sleep(0.6)
        return node.healthy(call)

    provider = RetryingHTTPProvider(
        node.url, request_kwargs={"timeout": 0.3}, policy=FAST, counter=RetryCounter()
    )
    node.script = [slow]
    assert Web3(provider).eth.block_number == 16
    assert provider.retries.snapshot() == {"timeout": 1}


def test_an_error_that_cannot_heal_is_not_retried(node: ScriptedNode) -> None:
    w3 = _web3(node)
    node.script = [_rpc_error(-32000, "execution reverted"), _http(401, b"")]
    with pytest.raises(Exception, match="execution reverted"):
        w3.eth.block_number  # noqa: B018
    with pytest.raises(requests.HTTPError):
        w3.eth.block_number  # noqa: B018
    assert node.seen == ["eth_blockNumber"] * 2
    assert _counter(w3).total == 0


def test_a_call_that_is_not_safe_to_repeat_is_sent_once(node: ScriptedNode) -> None:
    w3 = _web3(node)
    node.script = [_http(503, b"")]
    with pytest.raises(requests.HTTPError):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert node.seen == ["evm_mine"]
    assert not retryable_method("eth_sendTransaction")
    assert not retryable_method("evm_revert")
    assert retryable_method("eth_sendRawTransaction") and retryable_method("eth_getLogs")


# --------------------------------------------------------------------------- raw transactions

RAW = "0x02f86b827a6980843b9aca00847735940082520894" + "11" * 20 + "8080c0"
RAW_HASH = "0x" + keccak(bytes.fromhex(RAW[2:])).hex()


def test_a_raw_transaction_whose_first_send_arrived_is_sent_once(node: ScriptedNode) -> None:
    """The first answer is lost (502), the repeat is "already known": the hash is returned."""
    w3 = _web3(node)
    node.script = [_http(502, b""), _rpc_error(-32000, "already known")]
    assert w3.provider.make_request("eth_sendRawTransaction", [RAW])["result"] == RAW_HASH  # type: ignore[arg-type]
    assert node.seen == ["eth_sendRawTransaction"] * 2


def test_nonce_too_low_after_a_repeat_is_success_if_the_node_knows_the_transaction(
    node: ScriptedNode,
) -> None:
    w3 = _web3(node)
    node.results["eth_getTransactionByHash"] = lambda call: {"hash": call["params"][0]}
    node.script = [_reset, _rpc_error(-32000, "nonce too low")]
    assert w3.provider.make_request("eth_sendRawTransaction", [RAW])["result"] == RAW_HASH  # type: ignore[arg-type]
    assert node.seen == ["eth_sendRawTransaction"] * 2 + ["eth_getTransactionByHash"]

    node.results["eth_getTransactionByHash"] = None  # another transaction took the nonce
    node.seen.clear()
    node.script = [_reset, _rpc_error(-32000, "nonce too low")]
    answer = w3.provider.make_request("eth_sendRawTransaction", [RAW])  # type: ignore[arg-type]
    assert answer["error"]["message"] == "nonce too low"


def test_already_known_on_the_first_send_is_the_nodes_answer(node: ScriptedNode) -> None:
    w3 = _web3(node)
    node.script = [_rpc_error(-32000, "already known")]
    answer = w3.provider.make_request("eth_sendRawTransaction", [RAW])  # type: ignore[arg-type]
    assert answer["error"]["message"] == "already known"


# --------------------------------------------------------------------------- budget and stop


def test_a_node_that_stays_down_is_a_named_error_after_the_budget(node: ScriptedNode) -> None:
    w3 = _web3(node, RetryPolicy(give_up_after=0.3, initial_wait=0.01, max_backoff=0.05))
    node.script = [_rpc_error(-32000, "header not found")] * 1000
    started = time.monotonic()
    with pytest.raises(NodeUnavailableError) as caught:
        w3.eth.block_number  # noqa: B018
    assert time.monotonic() - started < 3
    error = caught.value
    assert error.code == "node_unavailable" and error.retryable
    assert error.kind == "lag" and error.method == "eth_blockNumber" and error.tries > 2
    assert "header not found" in error.message


def test_a_stop_ends_the_wait_at_once(node: ScriptedNode) -> None:
    stop = threading.Event()
    w3 = _web3(node, RetryPolicy(give_up_after=60, initial_wait=5, max_backoff=5), stop=stop)
    node.script = [_http(503, b"")] * 10
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(RetryInterruptedError):
        w3.eth.block_number  # noqa: B018
    assert time.monotonic() - started < 2


class _Clock:
    """A stop event that never fires and records the pauses asked of it."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def is_set(self) -> bool:
        return False

    def wait(self, seconds: float) -> bool:
        self.pauses.append(seconds)
        return False


def test_retry_after_is_honoured() -> None:
    clock = _Clock()
    retrier = Retrier(FAST, RetryCounter(), stop=clock)  # type: ignore[arg-type]
    failures = [Transient("rate_limited", "HTTP 429", retry_after=2.5)]

    def attempt(_try: int) -> str:
        if failures:
            raise failures.pop()
        return "ok"

    assert retrier.call("eth_call", attempt) == "ok"
    assert clock.pauses and clock.pauses[0] >= 2.5


def test_retry_after_as_seconds_or_a_date() -> None:
    def http_error(value: str) -> requests.HTTPError:
        response = requests.Response()
        response.status_code = 429
        response.headers["Retry-After"] = value
        return requests.HTTPError(response=response)

    assert transient_from_exception(http_error("7")).retry_after == 7  # type: ignore[union-attr]
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    waited = transient_from_exception(http_error(later)).retry_after  # type: ignore[union-attr]
    assert waited is not None and 25 < waited <= 30


def test_what_is_transient_and_what_is_not() -> None:
    assert transient_from_error({"code": -32000, "message": "header not found"}).kind == "lag"  # type: ignore[union-attr]
    assert transient_from_error({"code": 3, "message": "execution reverted"}) is None
    # a revert whose reason reads like lag is still the contract's answer
    reverted = {"code": -32000, "message": "execution reverted: block not found"}
    assert transient_from_error(reverted) is None
    assert transient_from_error({"code": -32000, "message": "nonce too low"}) is None
    assert transient_from_error({"code": -32602, "message": "invalid argument"}) is None
    # a result cap is the caller's to handle (ask for less), not a rate limit
    capped = {"code": -32005, "message": "query returned more than 10000 results"}
    assert transient_from_error(capped) is None
    assert transient_from_response({"jsonrpc": "2.0", "id": 1}).kind == "malformed"  # type: ignore[union-attr]
    assert transient_from_response({"jsonrpc": "2.0", "id": 1, "result": None}) is None


# --------------------------------------------------------------------------- connect


def test_connect_refuses_a_node_on_another_chain(node: ScriptedNode) -> None:
    with pytest.raises(WrongChainError) as caught:
        connect(node.url, chain_id=1)
    assert caught.value.code == "wrong_chain"
    assert (caught.value.expected, caught.value.actual) == (1, CHAIN_ID)
    assert "chain 31337" in caught.value.message and "chain 1" in caught.value.message
    assert connect(node.url, chain_id=CHAIN_ID).eth.chain_id == CHAIN_ID


def test_connect_rides_out_a_hiccup_and_names_a_dead_url(node: ScriptedNode) -> None:
    node.script = [_rpc_error(-32000, "header not found"), _http(502, b"")]
    w3 = connect(node.url, policy=FAST)
    assert w3.eth.chain_id == CHAIN_ID
    with pytest.raises(ChainError, match="no Ethereum node answers"):
        connect(f"http://127.0.0.1:{free_port()}", policy=FAST, probe_wait=0.3)
