"""A JSON-RPC proxy in front of anvil that misbehaves on purpose: it can refuse connections
until started, answer 503s, stall past the client's timeout, refuse eth_getLogs ranges that
return more than a few logs, the way public nodes do, and lack chosen methods."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class FaultyProxy:
    def __init__(
        self,
        upstream: str,
        port: int,
        *,
        max_logs: int | None = None,
        max_blocks: int | None = None,
        fail_every: int = 0,
        stall_every: int = 0,
        stall_seconds: float = 1.0,
        unsupported: frozenset[str] = frozenset(),
    ) -> None:
        self.upstream = upstream
        self.port = port
        self.max_logs = max_logs
        self.max_blocks = max_blocks
        self.fail_every = fail_every
        self.stall_every = stall_every
        self.stall_seconds = stall_seconds
        self.unsupported = unsupported
        self.methods: Counter[str] = Counter()
        self.requests = 0
        self.refused_ranges = 0
        self.failures = 0
        self.stalls = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

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
                status, answer = proxy._answer(json.loads(body))
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def _error(payload: dict[str, Any], code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": payload.get("id"), "error": {"code": code, "message": message}}
