"""Helpers of the indexer tests: a driver that makes every kind of contract event, and a
canonical dump of the inventory to compare databases."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select
from web3 import Web3

from depin.attestation import (
    ALL_WELL,
    GpuAttestation,
    GpuStatus,
    Liveness,
    gpu_key,
    model_bytes,
    sign_digest,
)
from depin.attestation_client import AttestationClient
from depin.registry import Profile, RegistryClient
from indexer import models
from indexer.service import Indexer

H100 = "nvidia-h100-sxm5-80gb"
MI300 = "amd-mi300x-192gb"


class Scenario:
    """Makes registry and attestation events on anvil, and remembers what exists."""

    def __init__(
        self,
        w3: Web3,
        registry: RegistryClient,
        oracle: AttestationClient,
        oracles: Sequence[LocalAccount],
        make_account: Callable[..., LocalAccount],
    ) -> None:
        self.w3 = w3
        self.registry = registry
        self.oracle = oracle
        self.oracles = list(oracles)
        self.make_account = make_account
        self.providers: list[LocalAccount] = []
        self.agents: dict[str, list[LocalAccount]] = {}
        self.gpus: list[tuple[bytes, LocalAccount, int]] = []  # key, provider, measured_at
        self.epoch = 0

    def save(self) -> tuple[Any, ...]:
        """What :meth:`load` needs to match the chain after ``evm_revert``."""
        return (
            list(self.providers),
            {k: list(v) for k, v in self.agents.items()},
            list(self.gpus),
            self.epoch,
            list(self.oracles),
        )

    def load(self, saved: tuple[Any, ...]) -> None:
        providers, agents, gpus, epoch, oracles = saved
        self.providers, self.gpus, self.epoch, self.oracles = providers, gpus, epoch, oracles
        self.agents = {k: list(v) for k, v in agents.items()}

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    @contextmanager
    def dropped_branch(self, *accounts: LocalAccount) -> Iterator[None]:
        """What the block sends lands on a branch the node then drops: anvil goes back to the
        block before it, and ``accounts`` get back the ETH the dropped branch spent."""
        snapshot = self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
        yield
        assert self.w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
        for account in accounts:
            self.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**19)])  # type: ignore[arg-type]

    def replace_branch(
        self,
        indexer: Indexer,
        provider: LocalAccount,
        dropped: Sequence[str],
        canonical: Sequence[str],
    ) -> None:
        """``indexer`` indexes ``provider``'s profile updates to the ``dropped`` regions on a
        branch the node then drops for updates to the ``canonical`` ones (not yet indexed)."""
        with self.dropped_branch(provider):
            for region in dropped:
                self.update(provider, region)
            indexer.sync()
        for region in canonical:
            self.update(provider, region)

    def register(self, name: str | None = None, region: str = "eu-west") -> LocalAccount:
        provider = self.make_account()
        profile = Profile(name=name or f"p-{provider.address[2:8]}", region=region)
        self.registry.register(provider, profile)
        self.providers.append(provider)
        self.agents[provider.address] = []
        return provider

    def update(self, provider: LocalAccount, region: str) -> None:
        self.registry.update_profile(provider, Profile(name="renamed", region=region))

    def authorize(self, provider: LocalAccount, ttl: int = 86_400) -> LocalAccount:
        agent = self.make_account(fund=False)
        self.registry.authorize_agent(provider, agent.address, self.now() + ttl)
        self.agents[provider.address].append(agent)
        return agent

    def revoke_agent(self, provider: LocalAccount, agent: LocalAccount) -> None:
        self.registry.revoke_agent(provider, agent.address)

    def attest(
        self,
        provider: LocalAccount,
        agent: LocalAccount,
        count: int = 1,
        *,
        key: bytes | None = None,
        model: str = H100,
        memory: int = 85_899_345_920,
        gops: int = 1_700_000,
        capabilities: bytes = bytes(32),
    ) -> list[bytes]:
        now = self.now()
        entries = []
        keys = []
        for _ in range(count):
            gkey = key or gpu_key("nvidia", f"GPU-{secrets.token_hex(16)}")
            message = GpuAttestation(
                provider=provider.address,
                agent=agent.address,
                gpu_key=gkey,
                vendor_id=0x10DE if model.startswith("nvidia") else 0x1002,
                model=model_bytes(model),
                memory_bytes=memory,
                fp32_gflops=60_000,
                fp16_gflops=900_000,
                memory_bandwidth_gbps=3_200,
                proven_int8_gops=gops,
                challenge=secrets.token_bytes(32),
                measured_at=now - 10,
                expires_at=now + 86_400,
                capabilities=capabilities,
            )
            entries.append((message, sign_digest(agent, message.digest(self.oracle.domain))))
            keys.append(gkey)
            self.gpus = [g for g in self.gpus if g[0] != gkey]
            self.gpus.append((gkey, provider, now - 10))
        version = self.oracle.config_version()
        digest = self.oracle.batch_digest(version, [m for m, _ in entries])
        sigs = [(o.address, sign_digest(o, digest)) for o in self.oracles[:2]]
        self.oracle.submit(
            self.providers[0] if self.providers else provider, version, entries, sigs
        )
        return keys

    def retire(self, index: int) -> None:
        key, provider, _ = self.gpus[index]
        self.oracle.retire(provider, key)

    def liveness(
        self, indexes: Sequence[int], statuses: dict[int, GpuStatus] | None = None
    ) -> None:
        """Records the next epoch with the GPUs at ``indexes`` online (available and healthy
        unless ``statuses`` says otherwise)."""
        epoch = max(self.epoch + 1, self.now() // 60)
        self.oracle.contract.functions  # noqa: B018
        admin = self.oracle.admin  # type: ignore[attr-defined]
        from depin.chain import transact

        transact(self.w3, admin, self.oracle.contract.functions.setNow(epoch * 60 + 1))
        version = self.oracle.config_version()
        status = {i: (statuses or {}).get(i, ALL_WELL) for i in indexes}
        liveness = Liveness.from_statuses(status, self.oracle.gpu_count())
        digest = self.oracle.liveness_digest(version, epoch, liveness)
        sigs = [(o.address, sign_digest(o, digest)) for o in self.oracles[1:]]
        self.oracle.record_liveness(admin, version, epoch, liveness, sigs)
        self.epoch = epoch

    def rotate_oracles(self) -> None:
        admin = self.oracle.admin  # type: ignore[attr-defined]
        self.oracles = [self.make_account(fund=False) for _ in range(3)]
        self.oracle.set_config(admin, [o.address for o in self.oracles], 2)


_SKIP_COLUMNS = {"id", "updated_at"}


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every inventory row that replaying the chain must reproduce, in a canonical order.

    Bookkeeping (checkpoint, kept blocks, undo log) is left out, and so are the change feed's
    ids and its ``reorg`` markers (a rebuild never saw the dropped blocks).
    """
    tables = [
        models.EVENTS,
        models.CHANGES,
        models.Base.metadata.tables["attestations"],
        models.Base.metadata.tables["liveness"],
        *models.STATE_TABLES,
    ]
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in tables:
            columns = [c for c in table.columns if c.name not in _SKIP_COLUMNS]
            query = select(*columns)
            if table is models.CHANGES:
                query = query.where(table.c.kind != "reorg")
            rows = [tuple(_plain(v) for v in row) for row in conn.execute(query)]
            out[table.name] = sorted(rows, key=repr)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def rows(engine: Engine, model: type[models.Base]) -> list[dict[str, Any]]:
    table = model.__table__
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]  # type: ignore[arg-type]


def flood_agents(
    w3: Web3,
    registry: RegistryClient,
    provider: LocalAccount,
    count: int,
    *,
    one_block: bool = False,
) -> int:
    """``count`` AgentAuthorized transactions from ``provider``, sent signed and raw without
    waiting for each receipt (automine: one block each; ``one_block``: all in one block).
    Returns the last block."""
    if one_block:
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        last = _send_authorizations(w3, registry, provider, count)
    finally:
        if one_block:
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    receipt = w3.eth.wait_for_transaction_receipt(last, timeout=60, poll_latency=0.02)
    assert receipt["status"] == 1
    return int(receipt["blockNumber"])


def _send_authorizations(
    w3: Web3, registry: RegistryClient, provider: LocalAccount, count: int
) -> bytes:
    chain_id = w3.eth.chain_id
    nonce = w3.eth.get_transaction_count(provider.address, "pending")
    expiry = int(w3.eth.get_block("latest")["timestamp"]) + 86_400
    last = b""
    for i in range(count):
        agent = "0x" + (i + 1).to_bytes(20, "big").hex()
        data = registry.contract.encode_abi(
            "authorizeAgent", args=[Web3.to_checksum_address(agent), expiry]
        )
        tx = {
            "to": registry.address,
            "data": data,
            "gas": 120_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1,
            "nonce": nonce + i,
            "chainId": chain_id,
            "type": 2,
        }
        last = w3.eth.send_raw_transaction(provider.sign_transaction(tx).raw_transaction)
    return bytes(last)


#: database backends the behaviour suites run on
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
