"""Token buckets for the onboarding routes, in the state the API's worker processes share, so
the configured rate holds for the whole service on a host however many workers serve it."""

from __future__ import annotations

from api.errors import RateLimitedError
from api.shared import SharedState, now


class TokenBucket:
    """``rate`` tokens per second up to ``burst`` per key. Buckets left alone long enough to be
    full again are forgotten, so a flood of addresses does not grow the state for good."""

    def __init__(self, state: SharedState, rate: float, burst: int, *, what: str) -> None:
        self.state = state
        self.rate = rate
        self.burst = float(burst)
        self.what = what
        self._takes = 0

    def take(self, key: str, cost: float = 1.0) -> None:
        """Takes ``cost`` tokens for ``key`` or raises :class:`RateLimitedError`."""
        at = now()
        name = f"{self.what}:{key}"
        with self.state.transaction() as db:
            self._takes += 1
            if self._takes % 1024 == 0:
                full_after = self.burst / self.rate
                db.execute(
                    "DELETE FROM rate_buckets WHERE key LIKE ? AND updated < ?",
                    (f"{self.what}:%", at - full_after),
                )
            row = db.execute(
                "SELECT tokens, updated FROM rate_buckets WHERE key = ?", (name,)
            ).fetchone()
            tokens = self.burst if row is None else row[0] + max(0.0, at - row[1]) * self.rate
            tokens = min(self.burst, tokens)
            if tokens < cost:  # (the refusal rolls back: the bucket is left as it was)
                wait = (cost - tokens) / self.rate
                raise RateLimitedError(
                    f"rate limit for this {self.what} reached; retry in {wait:.1f}s",
                    retry_after=wait,
                )
            db.execute(
                "INSERT OR REPLACE INTO rate_buckets (key, tokens, updated) VALUES (?, ?, ?)",
                (name, tokens - cost, at),
            )
