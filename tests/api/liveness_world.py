"""A small fleet with a known liveness history (a missing epoch, busy and unhealthy GPUs, a GPU
attested late), on a TestAttestationOracle with 10-second epochs, and its indexed database.

Epochs are recorded by moving the contract's clock (``setNow``); the chain's own clock (block
timestamps) is what the API compares the last record with, and a test moves it with
``evm_increaseTime`` to stop liveness.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attest_helpers import new_attestation
from eth_account import Account
from eth_account.signers.local import LocalAccount
from inventory_world import contracts_of, deploy_contracts, fund, new_indexer
from sqlalchemy import Engine
from web3 import Web3

from depin.attestation import ALL_WELL, GpuStatus, Liveness, sign_digest
from depin.attestation_client import AttestationClient
from depin.chain import transact
from depin.registry import Profile, RegistryClient
from indexer.service import Indexer

EPOCH_LENGTH = 10
BUSY = GpuStatus.HEALTHY  # online and healthy, held by a compute process
UNWELL = GpuStatus.AVAILABLE  # online and free, reporting trouble

#: epoch offset from the last recorded one -> {GPU index: status}; offset -3 is never recorded
#: (no quorum), GPU 3 is first attested after offset -2 was recorded
HISTORY: dict[int, dict[int, GpuStatus]] = {
    -5: {0: ALL_WELL, 1: ALL_WELL, 2: ALL_WELL},
    -4: {0: ALL_WELL, 1: ALL_WELL},
    -2: {0: ALL_WELL, 2: BUSY},
    -1: {0: ALL_WELL, 1: ALL_WELL, 3: ALL_WELL},
    0: {0: ALL_WELL, 1: UNWELL, 3: BUSY},
}
#: each GPU's uptime over the recorded epochs that count for it
UPTIME = {0: 5 / 5, 1: 4 / 5, 2: 2 / 5, 3: 2 / 2}


@dataclass
class LivenessWorld:
    w3: Web3
    oracle: AttestationClient
    contracts: dict[str, dict[str, Any]]
    keys: list[str] = field(default_factory=list)
    #: the last recorded epoch
    last: int = 0
    indexer: Indexer | None = None
    #: the provider of every GPU
    provider: LocalAccount | None = None

    def epoch(self, offset: int) -> int:
        return self.last + offset

    def index(self) -> None:
        assert self.indexer is not None
        self.indexer.sync()

    def stop_liveness(self, epochs: int) -> None:
        """Moves the chain's clock ``epochs`` epochs on (one new block) with no record."""
        self.w3.provider.make_request("evm_increaseTime", [epochs * EPOCH_LENGTH])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def build_liveness_world(w3: Web3, home: Path) -> LivenessWorld:
    admin = fund(w3, Account.from_key(secrets.token_bytes(32)))
    oracles = [fund(w3, Account.from_key(secrets.token_bytes(32))) for _ in range(3)]
    reg, orc = deploy_contracts(
        w3, admin, oracles, home, epoch_length=EPOCH_LENGTH, contract="TestAttestationOracle"
    )
    registry = RegistryClient(w3, reg.address)
    oracle = AttestationClient(w3, orc.address, abi_name="TestAttestationOracle")
    world = LivenessWorld(
        w3,
        oracle,
        contracts_of(reg, orc),
    )
    provider = fund(w3, Account.from_key(secrets.token_bytes(32)))
    agent: LocalAccount = Account.from_key(secrets.token_bytes(32))
    now = int(w3.eth.get_block("latest")["timestamp"])
    world.provider = provider
    registry.register(provider, Profile("uptime compute", "eu-west", "https://x.example"))
    registry.authorize_agent(provider, agent.address, now + 10**7)
    version = oracle.config_version()

    def attest(count: int) -> None:
        entries = []
        for _ in range(count):
            message = new_attestation(
                w3, provider, agent, memory_bandwidth_gbps=3000, proven_int8_gops=1_800_000,
                measured_at=now - 600, expires_at=now + 10**6,
            )  # fmt: skip
            entries.append((message, sign_digest(agent, message.digest(oracle.domain))))
            world.keys.append("0x" + message.gpu_key.hex())
        digest = oracle.batch_digest(version, [m for m, _ in entries])
        sigs = [(o.address, sign_digest(o, digest)) for o in oracles[:2]]
        oracle.submit(admin, version, entries, sigs, gas=5_000_000)

    def record(epoch: int, statuses: dict[int, GpuStatus]) -> None:
        transact(w3, admin, oracle.contract.functions.setNow(epoch * EPOCH_LENGTH + 1))
        liveness = Liveness.from_statuses(statuses, oracle.gpu_count())
        digest = oracle.liveness_digest(version, epoch, liveness)
        sigs = [(o.address, sign_digest(o, digest)) for o in oracles[:2]]
        oracle.record_liveness(admin, version, epoch, liveness, sigs)

    attest(3)
    world.last = int(w3.eth.get_block("latest")["timestamp"]) // EPOCH_LENGTH
    for offset in (-5, -4, -2):
        record(world.epoch(offset), HISTORY[offset])
    attest(1)
    for offset in (-1, 0):
        record(world.epoch(offset), HISTORY[offset])
    return world


def index_liveness_world(world: LivenessWorld, url: str, home: Path) -> Engine:
    world.indexer = new_indexer(world.w3, world.contracts, url, home)
    world.index()
    return world.indexer.engine
