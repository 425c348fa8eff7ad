"""Token buckets for the onboarding routes, in the state the API's processes share, so the
configured rate holds for the whole service however many workers (and, on PostgreSQL, hosts)
serve it."""

from __future__ import annotations

from api.errors import RateLimitedError
from api.shared import State, now


class TokenBucket:
    """``rate`` tokens per second up to ``burst`` per key. Buckets left alone long enough to be
    full again are forgotten, so a flood of addresses does not grow the state for good."""

    def __init__(self, state: State, rate: float, burst: int, *, what: str) -> None:
        self.state = state
        self.rate = rate
        self.burst = float(burst)
        self.what = what
        self._takes = 0

    def take(self, key: str, cost: float = 1.0) -> None:
        """Takes ``cost`` tokens for ``key`` or raises :class:`RateLimitedError`."""
        at = now()
        name = f"{self.what}:{key}"
        self._takes += 1
        if self._takes % 1024 == 0:
            with self.state.transaction() as db:  # (its own: it locks no bucket's key)
                db.execute(
                    "DELETE FROM rate_buckets WHERE key LIKE ? AND updated < ?",
                    (f"{self.what}:%", at - self.burst / self.rate),
                )
        with self.state.transaction() as db:
            db.lock("rate:" + name)  # read, then written: one process at a time per bucket
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
                "INSERT INTO rate_buckets (key, tokens, updated) VALUES (?, ?, ?) ON CONFLICT "
                "(key) DO UPDATE SET tokens = excluded.tokens, updated = excluded.updated",
                (name, tokens - cost, at),
            )
