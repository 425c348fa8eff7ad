"""What one client may make the oracle do: a body-size limit and a per-agent rate limit.

Both are one pure ASGI middleware, :class:`RequestLimits`, in front of the routes:

- **Body size**: a ``Content-Length`` above the route's limit is refused at once, before a byte
  of the body is read; a body sent without one (chunked) is counted as it streams and refused
  as soon as it passes the limit. Either way nothing is parsed: ``413 body_too_large``. Peer
  routes that carry evidence (signed heartbeats) get a larger limit than agent routes.
- **Rate**: a token bucket per key, in memory, O(1) per request: the agent the request names
  (the ``agent`` query parameter, or the first ``"agent"`` member of its JSON body, which is
  where heartbeats, attestations and bundles name it), else the client's IP. An empty bucket
  answers ``429 rate_limited`` with ``Retry-After``. The key is the agent rather than the IP so
  that agents behind one NAT do not share a budget; a proxy in front caps what one IP may send.

The body is read once here and handed on as one message, so the route parses it as before.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from depin.problems import PROBLEM_MEDIA_TYPE, problem_document
from depin.wire import RefusalCode

__all__ = ["PEER_PATHS", "UNLIMITED_PATHS", "RequestLimits", "TokenBuckets"]

#: oracle-to-oracle routes whose bodies carry other agents' signed heartbeats
PEER_PATHS: Final = frozenset({"/v1/liveness/evidence", "/v1/liveness/cosign"})
#: routes neither counted nor limited (monitoring)
UNLIMITED_PATHS: Final = frozenset({"/healthz", "/metrics"})

_AGENT_IN_BODY: Final = re.compile(rb'"agent"\s*:\s*"(0x[0-9a-fA-F]{40})"')
_AGENT_IN_QUERY: Final = re.compile(rb"(?:^|&)agent=(0x[0-9a-fA-F]{40})(?:&|$)")


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, at most ``burst`` saved up.

    Buckets live in an LRU of at most ``max_keys``; the least recently used one is forgotten
    first (it comes back full, which only ever favours the client), so memory stays bounded
    whatever keys a client makes up.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(max(1, burst))
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[bytes | str, list[float]] = OrderedDict()

    def take(self, key: bytes | str) -> float:
        """Takes a token for ``key``: 0.0 if there was one, else the seconds until there is."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        self._buckets.move_to_end(key)
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


class RequestLimits:
    """The body-size and rate limits in front of the oracle's routes (see the module).

    Args:
        app: the application behind.
        max_body: the largest body of an agent-facing route, in bytes.
        max_peer_body: the largest body of a route in ``PEER_PATHS``.
        rate: requests a second per agent (or per IP where no agent is named); 0 turns the
            rate limit off.
        burst: how many requests a key may make at once.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        max_peer_body: int,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_peer_body = max_peer_body
        self.buckets = TokenBuckets(rate, burst, clock=clock) if rate > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.max_peer_body if path in PEER_PATHS else self.max_body
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, *_too_large(path, limit, declared))
            return
        body = b""
        if scope["method"] not in ("GET", "HEAD"):
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await _refuse(send, *_too_large(path, limit, None))
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if self.buckets is not None:
            key = _key(scope, body)
            wait = self.buckets.take(key)
            if wait > 0.0:
                seconds = max(1, math.ceil(wait))
                who = f"agent {key.decode()}" if isinstance(key, bytes) else f"client {key}"
                detail = (
                    f"{who} is over {self.buckets.rate:g} requests a second "
                    f"(burst {self.buckets.burst:g}); retry after {seconds}s"
                )
                await _refuse(
                    send,
                    RefusalCode.RATE_LIMITED,
                    429,
                    detail,
                    [(b"retry-after", str(seconds).encode())],
                )
                return
        if scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # a disconnect, once the route waits for one
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _key(scope: Scope, body: bytes) -> bytes | str:
    """The named agent (lower-case address bytes), else the client's IP (a ``str``)."""
    found = _AGENT_IN_QUERY.search(scope.get("query_string", b"")) if not body else None
    if found is None and body:
        found = _AGENT_IN_BODY.search(body)
    if found is not None:
        return found.group(1).lower()
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _too_large(
    path: str, limit: int, declared: int | None
) -> tuple[RefusalCode, int, str, list[tuple[bytes, bytes]]]:
    said = f" ({declared} bytes declared)" if declared is not None else ""
    detail = f"the body of {path} is larger than {limit} bytes{said}; nothing of it was parsed"
    return RefusalCode.BODY_TOO_LARGE, 413, detail, [(b"connection", b"close")]


async def _refuse(
    send: Send,
    code: RefusalCode,
    status: int,
    detail: str,
    headers: list[tuple[bytes, bytes]],
) -> None:
    document: dict[str, Any] = problem_document(code, status, detail)
    payload = json.dumps(document, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
