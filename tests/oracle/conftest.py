"""Fixtures for the oracle node and the agent daemon (the attestation helpers are shared with
the contract's suite)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from attest_helpers import agent, make_agent, oracle_node, provider
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from depin.attestation_client import AttestationClient
from depin.chain import Anvil
from oracle.app import create_app
from oracle.node import OracleNode

__all__ = ["agent", "close_nodes", "http", "make_agent", "make_node", "node", "provider"]


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
def make_node(
    anvil: Anvil, home: Path, attestations: AttestationClient, oracle_accounts: list[LocalAccount]
) -> Callable[..., OracleNode]:
    """Makes an oracle's node (the first oracle's, named o0, unless told) on the suite's
    contracts, liveness off, with ``settings``."""

    def make(*, oracle: int = 0, name: str = "o0", **settings: Any) -> OracleNode:
        return oracle_node(anvil, home, oracle_accounts[oracle], name, liveness=False, **settings)

    return make


@pytest.fixture
def node(make_node: Callable[..., OracleNode]) -> OracleNode:
    """A node that asks for proofs of compute (the CPU's parameters) and takes simulated GPUs;
    a suite that wants another defines its own."""
    return make_node(proof_params="cpu", allow_simulated=True)


@pytest.fixture
def http(node: OracleNode) -> Iterator[TestClient]:
    """The suite's ``node`` served in-process, transmitting nothing."""
    with TestClient(create_app(node, transmit=False)) as client:
        yield client
