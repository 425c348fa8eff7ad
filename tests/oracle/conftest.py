"""Fixtures for the attestation contract, the oracle node and the agent daemon."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from depin.attestation_client import AttestationClient
from depin.deploy import deploy_attestation_oracle
from depin.registry import RegistryClient


@pytest.fixture
def oracle_accounts(make_account: Callable[..., LocalAccount]) -> list[LocalAccount]:
    return [make_account() for _ in range(3)]


@pytest.fixture
def attestations(
    w3: Web3,
    registry: RegistryClient,
    oracle_accounts: list[LocalAccount],
    make_account: Callable[..., LocalAccount],
    home: Path,
) -> AttestationClient:
    """A fresh TestAttestationOracle (settable clock) with 3 oracles and threshold 2."""
    admin = make_account()
    deployment = deploy_attestation_oracle(
        w3,
        admin,
        home / "deployments",
        registry=registry.address,
        oracles=[a.address for a in oracle_accounts],
        threshold=2,
        epoch_length=60,
        contract="TestAttestationOracle",
    )
    client = AttestationClient(w3, deployment.address, abi_name="TestAttestationOracle")
    client.admin = admin  # type: ignore[attr-defined]
    return client


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
