"""In-process token buckets for the onboarding routes.

The buckets live in this process's memory: with several API processes behind a load balancer
each enforces its own limits (the effective limit is multiplied by the number of processes). A
shared store (Redis, the database) would be needed for one global limit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from api.errors import RateLimitedError


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """``rate`` tokens per second up to ``burst`` per key; least recently used keys are dropped
    beyond ``max_keys`` so a flood of addresses cannot exhaust memory."""

    def __init__(self, rate: float, burst: int, *, what: str, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.what = what
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> None:
        """Takes ``cost`` tokens for ``key`` or raises :class:`RateLimitedError`."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens < cost:
                wait = (cost - bucket.tokens) / self.rate
                raise RateLimitedError(
                    f"rate limit for this {self.what} reached; retry in {wait:.1f}s",
                    retry_after=wait,
                )
            bucket.tokens -= cost
