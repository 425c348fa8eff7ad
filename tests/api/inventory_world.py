"""A small world of real chain events (registry + attestation oracle) and its indexed database.

Nothing here inserts rows: providers register, authorize agents, agents sign attestations,
oracles co-sign batches and liveness, and the real indexer mirrors the events.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from web3 import Web3

from depin.attestation import ALL_WELL, GpuAttestation, Liveness, gpu_key, model_bytes, sign_digest
from depin.attestation_client import AttestationClient
from depin.deploy import deploy_registry_and_oracle
from depin.deployments import Deployment
from depin.registry import Profile, RegistryClient
from depin.specs import PCI_VENDOR_IDS
from indexer.db import make_engine, migrate
from indexer.service import Indexer
from indexer.settings import IndexerSettings

GIB = 1 << 30

#: (vendor, model, memory GiB, int8 GOPS) per GPU, by provider region
FLEET: dict[str, list[tuple[str, str, int, int]]] = {
    "eu-west": [
        ("nvidia", "nvidia-h100-sxm5-80gb", 80, 1_800_000),
        ("nvidia", "nvidia-h100-sxm5-80gb", 80, 1_790_000),
        ("nvidia", "nvidia-a100-sxm4-40gb", 40, 600_000),
        ("amd", "amd-mi300x", 192, 2_500_000),
    ],
    "us-east": [
        ("nvidia", "nvidia-a100-sxm4-40gb", 40, 610_000),
        ("nvidia", "nvidia-l4", 24, 240_000),
        ("nvidia", "nvidia-l4", 24, 245_000),
        ("amd", "amd-mi250", 128, 360_000),
    ],
    "ap-south": [
        ("nvidia", "nvidia-h100-sxm5-80gb", 80, 1_810_000),
        ("amd", "amd-mi300x", 192, 2_400_000),
    ],
}


def fund(w3: Web3, account: LocalAccount) -> LocalAccount:
    """``account``, given 100 ether on anvil."""
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**20)])  # type: ignore[arg-type]
    return account


def deploy_contracts(
    w3: Web3, admin: LocalAccount, oracles: list[LocalAccount], home: Path, **oracle: Any
) -> tuple[Deployment, Deployment]:
    """A registry and an oracle of ``oracles`` (threshold 2) that ``admin`` deploys."""
    return deploy_registry_and_oracle(
        w3, admin, home / "deployments", [o.address for o in oracles], **oracle
    )


def contracts_of(registry: Deployment, oracle: Deployment) -> dict[str, dict[str, Any]]:
    """The indexer's ``contracts`` for a registry and an oracle just deployed."""
    return {
        "ProviderRegistry": {"address": registry.address, "block": registry.block},
        "AttestationOracle": {"address": oracle.address, "block": oracle.block},
    }


def new_indexer(w3: Web3, contracts: dict[str, dict[str, Any]], url: str, home: Path) -> Indexer:
    """The real indexer over ``contracts``, on a fresh database at ``url`` it migrates."""
    engine = make_engine(url)
    migrate(engine)
    settings = IndexerSettings(
        rpc_url=w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        home=home,
        database_url=url,
        finality=0,
    )
    return Indexer(settings, engine=engine, contracts=contracts)


@dataclass
class World:
    w3: Web3
    registry: RegistryClient
    oracle: AttestationClient
    contracts: dict[str, dict[str, Any]]
    providers: dict[str, LocalAccount] = field(default_factory=dict)
    agents: dict[str, LocalAccount] = field(default_factory=dict)
    gpus: list[dict[str, Any]] = field(default_factory=list)
    online_last: set[str] = field(default_factory=set)
    online_prev: set[str] = field(default_factory=set)
    retired: str = ""
    deregistered: str = ""
    #: who deployed the contracts and submits, and the oracle set (ascending)
    deployer: LocalAccount | None = None
    oracles: list[LocalAccount] = field(default_factory=list)


def fresh_contracts(
    w3: Web3, home: Path
) -> tuple[
    RegistryClient, AttestationClient, dict[str, dict[str, Any]], LocalAccount, list[LocalAccount]
]:
    """A registry and an oracle that a funded deployer just deployed, of three funded oracles:
    (the registry, the oracle, the indexer's contracts, the deployer, the oracles ascending)."""
    deployer = fund(w3, Account.from_key(secrets.token_bytes(32)))
    oracles = sorted(
        (fund(w3, Account.from_key(secrets.token_bytes(32))) for _ in range(3)),
        key=lambda a: int(a.address, 16),
    )
    reg, orc = deploy_contracts(w3, deployer, oracles, home)
    return (
        RegistryClient(w3, reg.address),
        AttestationClient(w3, orc.address),
        contracts_of(reg, orc),
        deployer,
        oracles,
    )


def build_world(w3: Web3, home: Path) -> World:
    registry, oracle, contracts, deployer, oracles = fresh_contracts(w3, home)
    world = World(w3, registry, oracle, contracts, deployer=deployer, oracles=oracles)
    now = int(w3.eth.get_block("latest")["timestamp"])
    entries: list[tuple[GpuAttestation, LocalAccount]] = []
    for region, fleet in FLEET.items():
        provider = fund(w3, Account.from_key(secrets.token_bytes(32)))
        agent: LocalAccount = Account.from_key(secrets.token_bytes(32))
        world.registry.register(provider, Profile(f"{region} compute", region, "https://x.example"))
        world.registry.authorize_agent(provider, agent.address, now + 10**7)
        world.providers[region] = provider
        world.agents[region] = agent
        for i, (vendor, model, memory, gops) in enumerate(fleet):
            key = gpu_key(vendor, f"GPU-{uuid.uuid4()}")
            expires = now + 86400 + i
            message = GpuAttestation(
                provider=provider.address,
                agent=agent.address,
                gpu_key=key,
                vendor_id=PCI_VENDOR_IDS[vendor],
                model=model_bytes(model),
                memory_bytes=memory * GIB,
                fp32_gflops=gops // 30,
                fp16_gflops=gops // 2,
                memory_bandwidth_gbps=2000,
                proven_int8_gops=gops,
                challenge=secrets.token_bytes(32),
                measured_at=now - 30,
                expires_at=expires,
            )
            entries.append((message, agent))
            world.gpus.append(
                {
                    "gpu_key": "0x" + key.hex(),
                    "region": region,
                    "provider": provider.address,
                    "vendor": vendor,
                    "model": model,
                    "memory_bytes": memory * GIB,
                    "throughput_gops": gops,
                }
            )
    domain = world.oracle.domain
    signed = [(m, sign_digest(a, m.digest(domain))) for m, a in entries]
    version = world.oracle.config_version()
    digest = world.oracle.batch_digest(version, [m for m, _ in entries])
    sigs = [(o.address, sign_digest(o, digest)) for o in oracles[:2]]
    receipt = world.oracle.submit(deployer, version, signed, sigs, gas=20_000_000)
    assert len(world.oracle.attested(receipt)) == len(entries), world.oracle.rejections(receipt)
    # A second attestation of the first GPU: history with two rows.
    first, first_agent = entries[0]
    again = GpuAttestation(
        **{
            **first.__dict__,
            "proven_int8_gops": 1_805_000,
            "challenge": secrets.token_bytes(32),
            "measured_at": now - 10,
        }
    )
    digest = world.oracle.batch_digest(version, [again])
    world.oracle.submit(
        deployer,
        version,
        [(again, sign_digest(first_agent, again.digest(domain)))],
        [(o.address, sign_digest(o, digest)) for o in oracles[1:]],
    )
    world.gpus[0]["throughput_gops"] = 1_805_000

    # Liveness: two epochs; GPU indexes are assigned in attestation order.
    length = world.oracle.epoch_length()
    current = int(w3.eth.get_block("latest")["timestamp"]) // length
    keys = [g["gpu_key"] for g in world.gpus]
    prev = [0, 1, 2, 3, 4, 5]
    last = [0, 1, 3, 4, 8]
    for epoch, indexes in ((current - 1, prev), (current, last)):
        liveness = Liveness.from_statuses(dict.fromkeys(indexes, ALL_WELL), len(keys))
        digest = world.oracle.liveness_digest(version, epoch, liveness)
        world.oracle.record_liveness(
            deployer,
            version,
            epoch,
            liveness,
            [(o.address, sign_digest(o, digest)) for o in oracles[:2]],
        )
    world.online_prev = {keys[i] for i in prev}
    world.online_last = {keys[i] for i in last}
    # A provider retires one GPU; the deregistered provider is a fourth one without GPUs.
    world.retired = keys[6]
    world.oracle.retire(world.providers["us-east"], bytes.fromhex(keys[6][2:]))
    leaving = fund(w3, Account.from_key(secrets.token_bytes(32)))
    world.registry.register(leaving, Profile("leaving", "eu-west"))
    world.registry.deregister(leaving)
    world.deregistered = leaving.address
    return world


def index_world(world: World, url: str, home: Path) -> Engine:
    """Migrates a fresh database at ``url`` and runs the real indexer over the world's events."""
    indexer = new_indexer(world.w3, world.contracts, url, home)
    indexer.sync()
    return indexer.engine
