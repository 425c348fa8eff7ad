"""A JSON-RPC proxy in front of anvil that misbehaves on purpose: it can refuse connections
until started, answer 503s, stall past the client's timeout, refuse eth_getLogs ranges that
return more than a few logs, the way public nodes do, and lack chosen methods.

It also injects the failures a load-balanced provider shows now and then, at random
(``error_rate``, ``drop_rate``, ``latency``) or scripted (:meth:`FaultyProxy.inject`), and can
claim to serve another chain (``chain_id``). Each injected failure is counted by kind in
``injected``; the kinds are :data:`FAULTS`.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import KW_ONLY, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

#: fault -> what the client sees
FAULTS = {
    "lag": "JSON-RPC -32000 'header not found' (a node behind its load balancer's peers)",
    "trie": "JSON-RPC -32000 'missing trie node'",
    "unknown_block": "JSON-RPC -32000 'unknown block'",
    "rpc_timeout": "JSON-RPC -32002 'request timed out'",
    "429": "HTTP 429 with Retry-After",
    "5xx": "HTTP 502",
    "malformed": "HTTP 200 with an HTML body",
    "reset": "the connection reset without an answer",
    "lost_reply": "the node takes the request, then the connection resets before its answer",
}
#: the faults ``error_rate`` draws from (answers that are JSON-RPC or HTTP errors); a lagging
#: node's errors are the most common, as they are behind real load balancers
RANDOM_ERRORS = (
    "lag",
    "lag",
    "trie",
    "unknown_block",
    "rpc_timeout",
    "429",
    "5xx",
    "malformed",
)


class _Reply:
    """What the handler sends: a JSON answer, a raw body, or nothing (a reset)."""

    def __init__(
        self,
        status: int,
        answer: Any = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        reset: bool = False,
    ) -> None:
        self.status = status
        self.body = body if body is not None else json.dumps(answer).encode()
        self.headers = headers or {}
        self.reset = reset


@dataclass(eq=False)
class FaultyProxy:
    """The proxy on ``port`` in front of ``upstream``; the keyword arguments choose its faults,
    and what it saw and did is counted in the attributes after them."""

    upstream: str
    port: int
    _: KW_ONLY
    max_logs: int | None = None
    max_blocks: int | None = None
    fail_every: int = 0
    stall_every: int = 0
    stall_seconds: float = 1.0
    unsupported: frozenset[str] = frozenset()
    error_rate: float = 0.0
    drop_rate: float = 0.0
    latency: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    retry_after: str = "0"
    chain_id: int | None = None

    methods: Counter[str] = field(default_factory=Counter, init=False)
    requests: int = field(default=0, init=False)
    refused_ranges: int = field(default=0, init=False)
    failures: int = field(default=0, init=False)
    stalls: int = field(default=0, init=False)
    injected: Counter[str] = field(default_factory=Counter, init=False)
    _script: list[tuple[str, str | None]] = field(default_factory=list, init=False)
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, delay: float = 0.0) -> FaultyProxy:
        """Starts listening after ``delay`` seconds (connections are refused until then)."""

        def serve() -> None:
            time.sleep(delay)
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            self._server.daemon_threads = True
            self._server.serve_forever(poll_interval=0.05)

        threading.Thread(target=serve, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def inject(self, fault: str, count: int = 1, method: str | None = None) -> None:
        """The next ``count`` requests (of ``method`` only, if given) meet ``fault``."""
        assert fault in FAULTS, fault
        with self._lock:
            self._script.extend([(fault, method)] * count)

    def _scripted(self, calls: list[Any]) -> str | None:
        methods = {str(c.get("method")) for c in calls}
        with self._lock:
            for i, (fault, method) in enumerate(self._script):
                if method is None or method in methods:
                    del self._script[i]
                    return fault
            if self.drop_rate and self._random.random() < self.drop_rate:
                return "reset"
            if self.error_rate and self._random.random() < self.error_rate:
                return self._random.choice(RANDOM_ERRORS)
        return None

    def _fault(self, fault: str, payload: Any) -> _Reply:
        with self._lock:
            self.injected[fault] += 1
        first = payload[0] if isinstance(payload, list) and payload else payload
        if fault in ("reset", "lost_reply"):
            return _Reply(0, reset=True)
        if fault == "429":
            return _Reply(429, {"error": "rate limited"}, headers={"Retry-After": self.retry_after})
        if fault == "5xx":
            return _Reply(502, body=b"<html><body>502 Bad Gateway</body></html>")
        if fault == "malformed":
            return _Reply(200, body=b"<html><body>upstream error</body></html>")
        code, message = {
            "lag": (-32000, "header not found"),
            "trie": (-32000, "missing trie node 5a3b... (path )"),
            "unknown_block": (-32000, "unknown block"),
            "rpc_timeout": (-32002, "request timed out"),
        }[fault]
        if isinstance(payload, list):
            return _Reply(200, [_error(c, code, message) for c in payload])
        return _Reply(200, _error(first, code, message))

    def _reply(self, payload: Any) -> _Reply:
        low, high = self.latency
        if high > 0:
            time.sleep(self._random.uniform(low, high))
        calls = payload if isinstance(payload, list) else [payload]
        fault = self._scripted(calls)
        if fault == "lost_reply":
            self._answer(payload)  # the node acts on it; only its answer is lost
        if fault is not None:
            return self._fault(fault, payload)
        status, answer = self._answer(payload)
        if (
            self.chain_id is not None
            and not isinstance(payload, list)
            and payload.get("method") == "eth_chainId"
            and isinstance(answer, dict)
        ):
            answer = {**answer, "result": hex(self.chain_id)}
        return _Reply(status, answer)

    def _answer(self, payload: Any) -> tuple[int, Any]:
        with self._lock:
            self.requests += 1
            n = self.requests
        if self.fail_every and n % self.fail_every == 0:
            self.failures += 1
            return 503, {"error": "service unavailable"}
        calls = payload if isinstance(payload, list) else [payload]
        with self._lock:
            self.methods.update(str(c.get("method")) for c in calls)
        if not isinstance(payload, list) and payload.get("method") in self.unsupported:
            return 200, _error(payload, -32601, "the method does not exist/is not available")
        if (
            self.stall_every
            and n % self.stall_every == 0
            and calls[0].get("method") == "eth_getLogs"
        ):
            self.stalls += 1
            time.sleep(self.stall_seconds)
        if not isinstance(payload, list) and payload.get("method") == "eth_getLogs":
            query = payload["params"][0]
            span = int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
            if self.max_blocks is not None and span > self.max_blocks:
                self.refused_ranges += 1
                return 200, _error(payload, -32602, f"block range too large: {span}")
        response = requests.post(self.upstream, json=payload, timeout=30).json()
        if (
            self.max_logs is not None
            and not isinstance(payload, list)
            and payload.get("method") == "eth_getLogs"
            and len(response.get("result") or []) > self.max_logs
        ):
            self.refused_ranges += 1
            return 200, _error(payload, -32005, f"query returned more than {self.max_logs} results")
        return 200, response

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reply = proxy._reply(json.loads(body))
                if reply.reset:
                    # close with RST, not FIN: the client reads "connection reset by peer"
                    linger = struct.pack("ii", 1, 0)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    self.close_connection = True
                    self.connection.close()
                    return
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def _error(payload: dict[str, Any], code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": payload.get("id"), "error": {"code": code, "message": message}}
