"""Helpers shared by the attestation contract's, the oracle's and the daemon's tests.

``make_agent``, ``provider`` and ``agent`` are fixtures: a suite's conftest imports them to offer
them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from depin.attestation import GpuAttestation, gpu_key, model_bytes, model_text, sign_digest
from depin.attestation_client import AttestationClient
from depin.capabilities import (
    CapabilityDocument,
    GpuCapabilities,
    HostCapabilities,
    PcieCapabilities,
)
from depin.chain import Anvil
from depin.crypto import to_hex
from depin.deploy import deploy_attestation_oracle
from depin.registry import RegistryClient
from oracle.node import OracleNode
from oracle.settings import OracleSettings

H100 = "nvidia-h100-sxm5-80gb"
H100_MEMORY = 85899345920


def chain_now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


@pytest.fixture
def make_agent(
    registry: RegistryClient, make_account: Callable[..., LocalAccount], w3: Web3
) -> Callable[..., LocalAccount]:
    """A fresh agent key authorized by ``provider`` for a day (or ``ttl`` seconds)."""

    def make(provider: LocalAccount, ttl: int = 86400) -> LocalAccount:
        agent = make_account(fund=False)
        registry.authorize_agent(provider, agent.address, chain_now(w3) + ttl)
        return agent

    return make


@pytest.fixture
def provider(make_provider: Callable[..., LocalAccount]) -> LocalAccount:
    """A registered provider."""
    return make_provider()


@pytest.fixture
def agent(make_agent: Callable[..., LocalAccount], provider: LocalAccount) -> LocalAccount:
    """An agent key that ``provider`` authorized."""
    return make_agent(provider)


def oracle_node(
    anvil: Anvil, home: Path, account: LocalAccount, name: str = "o0", **settings: Any
) -> OracleNode:
    """An oracle node signing with ``account`` on ``anvil``, its settings beside the defaults."""
    return OracleNode(
        OracleSettings(rpc_url=anvil.rpc_url, home=home, name=name, **settings), account
    )


def deploy_test_oracle(
    w3: Web3, admin: LocalAccount, home: Path, registry: str, oracles: Sequence[LocalAccount]
) -> AttestationClient:
    """A TestAttestationOracle (settable clock) of ``oracles``, threshold 2, 60 s epochs, that
    ``admin`` deploys into ``home`` and stays the admin of (``client.admin``)."""
    deployment = deploy_attestation_oracle(
        w3,
        admin,
        home / "deployments",
        registry=registry,
        oracles=[o.address for o in oracles],
        threshold=2,
        epoch_length=60,
        contract="TestAttestationOracle",
    )
    client = AttestationClient(w3, deployment.address, abi_name="TestAttestationOracle")
    client.admin = admin  # type: ignore[attr-defined]
    return client


def new_attestation(
    w3: Web3, provider: LocalAccount, agent: LocalAccount, **overrides: Any
) -> GpuAttestation:
    now = chain_now(w3)
    message = GpuAttestation(
        provider=provider.address,
        agent=agent.address,
        gpu_key=gpu_key("nvidia", f"GPU-{secrets.token_hex(16)}"),
        vendor_id=0x10DE,
        model=model_bytes(H100),
        memory_bytes=H100_MEMORY,
        fp32_gflops=60_000,
        fp16_gflops=900_000,
        memory_bandwidth_gbps=3_200,
        proven_int8_gops=1_700_000,
        challenge=secrets.token_bytes(32),
        measured_at=now - 10,
        expires_at=now + 86400,
    )
    return replace(message, **overrides) if overrides else message


def host_document(messages: Sequence[GpuAttestation], **host: Any) -> CapabilityDocument:
    """A capability document listing the attested GPUs of ``messages`` (slots in their order),
    on an 8-core host with Docker unless ``host`` says otherwise."""
    gpus = [
        GpuCapabilities(
            slot=f"0000:{0x18 + i:02x}:00.0",
            gpu_key=to_hex(m.gpu_key),
            vendor="nvidia",
            model=model_text(m.model),
            memory_bytes=m.memory_bytes,
            driver_version="550.54.15",
            cuda_version="12.4",
            compute_capability="9.0",
            pcie=PcieCapabilities(generation=5, width=16),
        )
        for i, m in enumerate(messages)
    ]
    defaults: dict[str, Any] = {"cpu_cores": 8, "ram_gib": 64, "container_runtimes": ["docker"]}
    return CapabilityDocument(host=HostCapabilities(**{**defaults, **host}), gpus=gpus)


def challenged(
    http: Any,
    node: OracleNode,
    signer: LocalAccount,
    message: GpuAttestation,
    token: dict[str, Any] | None = None,
) -> tuple[GpuAttestation, dict[str, Any]]:
    """``message`` under a fresh challenge of the node that ``http`` reaches (or ``token``),
    signed by ``signer``: the message and the body ``POST /v1/attestations`` takes."""
    from depin.wire import AttestationBody

    token = token or http.get("/v1/challenge").json()
    message = replace(message, challenge=bytes.fromhex(token["challenge"][2:]))
    return message, {
        "attestation": AttestationBody.of(message).model_dump(mode="json"),
        "signature": to_hex(sign_digest(signer, message.digest(node.client.domain))),
        "challenge": token,
    }


def agent_sign(client: AttestationClient, agent: LocalAccount, message: GpuAttestation) -> bytes:
    return sign_digest(agent, message.digest(client.domain))


def cosign(
    client: AttestationClient,
    oracles: Sequence[LocalAccount],
    messages: Sequence[GpuAttestation],
    version: int | None = None,
) -> list[tuple[str, bytes]]:
    digest = client.batch_digest(client.config_version() if version is None else version, messages)
    return [(o.address, sign_digest(o, digest)) for o in oracles]


def submit(
    client: AttestationClient,
    sender: LocalAccount,
    entries: Sequence[tuple[GpuAttestation, bytes]],
    oracles: Sequence[LocalAccount],
    version: int | None = None,
) -> Any:
    v = client.config_version() if version is None else version
    sigs = cosign(client, oracles, [m for m, _ in entries], v)
    return client.submit(sender, v, entries, sigs)


def submit_by(
    client: AttestationClient,
    sender: LocalAccount,
    agent: LocalAccount,
    messages: Sequence[GpuAttestation],
    oracles: Sequence[LocalAccount],
) -> Any:
    """``messages``, each signed by ``agent`` and the batch by ``oracles``, submitted by
    ``sender`` under the oracle set's current version."""
    return submit(client, sender, [(m, agent_sign(client, agent, m)) for m in messages], oracles)


def settled_epoch(node: Any, margin_s: float = 8.0) -> int:
    """The oracle's epoch just ended, once the current one has ``margin_s`` seconds left, so
    that a test's heartbeats for it stay within the accepted epochs (current or previous)."""
    length = node.chain.epoch_length
    left = length - time.time() % length
    if left < margin_s:
        time.sleep(left + 0.05)
    return int(node.chain.epoch()) - 1


def approved_bundle(
    w3: Web3,
    attestations: AttestationClient,
    oracles: Sequence[Any],
    provider: LocalAccount,
    agent: LocalAccount,
    ask: Callable[[Callable[[], Any]], Any] = lambda send: send(),
) -> tuple[GpuAttestation, dict[str, Any]]:
    """One attestation under the first oracle's challenge (``oracles`` are HTTP clients of the
    oracles' apps), approved by every oracle: the message and the bundle for ``/v1/bundles``.
    ``ask`` sends each request (a client that asks again on a 5xx, say)."""
    from depin.wire import AttestationBody

    challenge = ask(lambda: oracles[0].get("/v1/challenge"))
    assert challenge.status_code == 200, challenge.text
    token = challenge.json()
    message = new_attestation(w3, provider, agent, challenge=bytes.fromhex(token["challenge"][2:]))
    body = {
        "attestation": AttestationBody.of(message).model_dump(mode="json"),
        "signature": "0x" + sign_digest(agent, message.digest(attestations.domain)).hex(),
        "challenge": token,
    }
    approvals = []
    for oracle in oracles:
        answer = ask(lambda o=oracle: o.post("/v1/attestations", json=body))
        assert answer.status_code == 200, answer.text
        approvals.append(answer.json())
    return message, {
        "attestation": body["attestation"],
        "signature": body["signature"],
        "approvals": approvals,
    }
