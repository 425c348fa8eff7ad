"""Fixtures for the oracle node and the agent daemon (the attestation helpers are shared with
the contract's suite)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from attest_helpers import agent, make_agent, provider
from fastapi.testclient import TestClient

from oracle.app import create_app
from oracle.node import OracleNode

__all__ = ["agent", "close_nodes", "http", "make_agent", "provider"]


@pytest.fixture(autouse=True)
def close_nodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every oracle node a test makes stops following the chain when the test ends."""
    made: list[OracleNode] = []
    init = OracleNode.__init__

    def record(self: OracleNode, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(OracleNode, "__init__", record)
    yield
    for node in made:
        node.close()


@pytest.fixture
def http(node: OracleNode) -> Iterator[TestClient]:
    """The suite's ``node`` served in-process, transmitting nothing."""
    with TestClient(create_app(node, transmit=False)) as client:
        yield client
