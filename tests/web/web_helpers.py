"""The browser suites' stack: constants, the attested-GPU record and the Stack driver."""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# tests/ is on sys.path (rootdir conftest) and tests/api would shadow the api package as a
# namespace package: put the project root first.
sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

import os
import socket
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from web3 import Web3

from depin.attestation import ALL_WELL, GpuAttestation, Liveness, gpu_key, model_bytes, sign_digest
from depin.attestation_client import AttestationClient
from depin.registry import RegistryClient
from indexer.service import Indexer

CHROMIUM = os.environ.get("DEPIN_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EPOCH_LENGTH = 60
GIB = 1024**3

#: (vendor, PCI vendor id, model id, memory, proven int8 GOPS) of the GPUs the fixture attests
H100 = ("nvidia", 0x10DE, "nvidia-h100-sxm5-80gb", 80 * GIB, 1_700_000)
L4 = ("nvidia", 0x10DE, "nvidia-l4-24gb", 24 * GIB, 240_000)
MI300X = ("amd", 0x1002, "amd-mi300x-192gb", 192 * GIB, 2_100_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chain_now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


@dataclass
class AttestedGpu:
    key: str
    provider: str
    agent: str
    vendor: str
    model: str
    index: int
    tx_hashes: list[str] = field(default_factory=list)


@dataclass
class Stack:
    """The chain, the indexer following it, and the API (with the web pages) over its database."""

    url: str
    w3: Web3
    registry: RegistryClient
    oracle: AttestationClient
    oracles: list[LocalAccount]
    indexer: Indexer
    gpus: list[AttestedGpu] = field(default_factory=list)
    providers: dict[str, LocalAccount] = field(default_factory=dict)
    agents: dict[str, LocalAccount] = field(default_factory=dict)

    def sync(self) -> None:
        """Indexes up to the head now (the background follower also does, a moment later)."""
        self.indexer.sync()

    def attest(
        self,
        provider: LocalAccount,
        agent: LocalAccount,
        specs: list[tuple[str, int, str, int, int]],
        *,
        uuids: list[str] | None = None,
        age: int = 10,
        signers: tuple[int, ...] = (0, 1),
        capabilities: bytes = bytes(32),
    ) -> list[AttestedGpu]:
        """Agent-signed attestations, co-signed by oracles ``signers``, submitted in one batch."""
        now = chain_now(self.w3)
        entries: list[tuple[GpuAttestation, bytes]] = []
        for i, (vendor, vendor_id, model, memory, gops) in enumerate(specs):
            uuid = uuids[i] if uuids else f"GPU-{os.urandom(16).hex()}"
            message = GpuAttestation(
                provider=provider.address,
                agent=agent.address,
                gpu_key=gpu_key(vendor, uuid),
                vendor_id=vendor_id,
                model=model_bytes(model),
                memory_bytes=memory,
                fp32_gflops=gops // 30,
                fp16_gflops=gops // 2,
                memory_bandwidth_gbps=3_000,
                proven_int8_gops=gops,
                challenge=os.urandom(32),
                measured_at=now - age,
                expires_at=now + 7 * 86400,
                capabilities=capabilities,
            )
            entries.append((message, sign_digest(agent, message.digest(self.oracle.domain))))
        version = self.oracle.config_version()
        digest = self.oracle.batch_digest(version, [m for m, _ in entries])
        sigs = [(self.oracles[i].address, sign_digest(self.oracles[i], digest)) for i in signers]
        receipt = self.oracle.submit(self.oracles[0], version, entries, sigs)
        assert not self.oracle.rejections(receipt), self.oracle.rejections(receipt)
        tx = "0x" + bytes(receipt["transactionHash"]).hex()
        out = []
        for event, (message, _) in zip(self.oracle.attested(receipt), entries, strict=True):
            out.append(
                AttestedGpu(
                    key="0x" + message.gpu_key.hex(),
                    provider=provider.address,
                    agent=agent.address,
                    vendor=specs[len(out)][0],
                    model=specs[len(out)][2],
                    index=int(event["index"]),
                    tx_hashes=[tx],
                )
            )
        return out

    def record_liveness(self, indexes: list[int]) -> None:
        """Two oracles co-sign that the GPUs at ``indexes`` were live in the current epoch."""
        version = self.oracle.config_version()
        epoch = chain_now(self.w3) // EPOCH_LENGTH
        liveness = Liveness.from_statuses(dict.fromkeys(indexes, ALL_WELL), self.oracle.gpu_count())
        digest = self.oracle.liveness_digest(version, epoch, liveness)
        sigs = [(o.address, sign_digest(o, digest)) for o in self.oracles[:2]]
        self.oracle.record_liveness(self.oracles[0], version, epoch, liveness, sigs)
