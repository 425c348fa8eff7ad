"""Fixtures for the proof-of-compute suites."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from proof_helpers import MakeOracle, Oracle, new_oracle

from oracle.proof import ChallengeStore, InMemoryChallengeStore, SqliteChallengeStore


@pytest.fixture(params=["memory", "sqlite"])
def new_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], ChallengeStore]]:
    """Makes a fresh, empty challenge store of each implementation in turn."""
    opened: list[SqliteChallengeStore] = []
    count = itertools.count()

    def make() -> ChallengeStore:
        if request.param == "memory":
            return InMemoryChallengeStore()
        store = SqliteChallengeStore(tmp_path / f"challenges-{next(count)}.sqlite3")
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def make_oracle(new_store: Callable[[], ChallengeStore]) -> MakeOracle:
    """``make_oracle(policy=..., clock=..., seed=...)``: see :func:`proof_helpers.new_oracle`;
    each oracle has a fresh store, in memory and in SQLite in turn."""

    def make(**kwargs: Any) -> Oracle:
        return new_oracle(store=new_store(), **kwargs)

    return make
