"""A clock for tests: seconds that move only when a test says so."""

from __future__ import annotations


class FakeClock:
    """A clock that moves only when told to (``now``, or :meth:`advance`)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
