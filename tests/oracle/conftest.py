"""Fixtures for the attestation contract, the oracle node and the agent daemon."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from depin.registry import RegistryClient


@pytest.fixture
def make_agent(
    registry: RegistryClient, make_account: Callable[..., LocalAccount], w3: Web3
) -> Callable[..., LocalAccount]:
    """A fresh agent key authorized by ``provider`` for a day (or ``ttl`` seconds)."""

    def make(provider: LocalAccount, ttl: int = 86400) -> LocalAccount:
        agent = make_account(fund=False)
        now = int(w3.eth.get_block("latest")["timestamp"])
        registry.authorize_agent(provider, agent.address, now + ttl)
        return agent

    return make
