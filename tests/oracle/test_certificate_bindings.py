"""A proof certificate binds one attestation: every field it covers, refused with its code and
the field when another attestation carries it, and never once expired; a batch is co-signed
only over entries this oracle approved, under the current config."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from attest_helpers import H100, H100_MEMORY, chain_now
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from depin.attestation import GpuAttestation, gpu_key, model_bytes, sign_digest
from depin.proof.certificate import ProofCertificate
from depin.wire import AttestationBody
from oracle.node import OracleNode

pytestmark = pytest.mark.integration

SIM = "sim:" + H100


def _message(w3: Web3, provider: LocalAccount, agent: LocalAccount, n: int = 0) -> GpuAttestation:
    now = chain_now(w3)
    return GpuAttestation(
        provider=provider.address, agent=agent.address,
        gpu_key=gpu_key("nvidia", f"GPU-{n}-{provider.address}"), vendor_id=0x10DE,
        model=model_bytes(SIM), memory_bytes=H100_MEMORY, fp32_gflops=100, fp16_gflops=100,
        memory_bandwidth_gbps=10, proven_int8_gops=2000, challenge=bytes([n + 1]) * 32,
        measured_at=now - 5, expires_at=now + 3600,
    )  # fmt: skip


@pytest.fixture
def message(w3: Web3, provider: LocalAccount, agent: LocalAccount) -> GpuAttestation:
    """The attestation the certificates of a test are made for."""
    return _message(w3, provider, agent)


def _certificate(
    node: OracleNode, issuer: LocalAccount, m: GpuAttestation, **overrides: Any
) -> dict[str, Any]:
    now = chain_now(node.client.w3)
    certificate = ProofCertificate(
        issuer.address, m.provider, m.agent, m.gpu_key, m.model, m.challenge,
        m.proven_int8_gops, now - 10, now + 600,
    )  # fmt: skip
    certificate = replace(certificate, **overrides)
    return certificate.to_json(sign_digest(issuer, certificate.digest(node.client.domain)))


def _attest(
    http: TestClient, node: OracleNode, agent: LocalAccount, m: GpuAttestation, proof: Any
) -> Any:
    return http.post(
        "/v1/attestations",
        json={
            "attestation": AttestationBody.of(m).model_dump(mode="json"),
            "signature": "0x" + sign_digest(agent, m.digest(node.client.domain)).hex(),
            "proof": proof,
        },
    )


def _refused(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()
    return str(response.json()["detail"])


@pytest.mark.parametrize(
    ("field", "override"),
    [
        ("provider", lambda other: {"provider": other.address}),
        ("agent", lambda other: {"agent": other.address}),
        ("gpuKey", lambda other: {"gpu_key": gpu_key("nvidia", "GPU-another")}),
        ("model", lambda other: {"model": model_bytes("sim:NVIDIA A100-SXM4-80GB")}),
        ("challenge", lambda other: {"challenge": b"\x99" * 32}),
        ("provenInt8Gops", lambda other: {"proven_int8_gops": 1999}),
    ],
)
def test_a_certificate_for_another_binding_is_refused_naming_it(
    http: TestClient,
    node: OracleNode,
    agent: LocalAccount,
    message: GpuAttestation,
    oracle_accounts: list[LocalAccount],
    field: str,
    override: Callable[[LocalAccount], dict[str, Any]],
) -> None:
    other = _certificate(node, oracle_accounts[1], message, **override(Account.create()))
    detail = _refused(_attest(http, node, agent, message, other), 422, "proof_mismatch")
    assert field in detail
    # the certificate of this very attestation, by another oracle of the config, is approved
    own = _certificate(node, oracle_accounts[1], message)
    assert _attest(http, node, agent, message, own).status_code == 200


def test_an_expired_or_foreign_certificate_is_refused(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    agent: LocalAccount,
    message: GpuAttestation,
    oracle_accounts: list[LocalAccount],
) -> None:
    # Expired by either clock: other suites move the shared chain's clock ahead of the host's.
    now = min(chain_now(w3), int(time.time()))
    expired = _certificate(node, oracle_accounts[0], message, expires_at=now - 1)
    assert "expired" in _refused(_attest(http, node, agent, message, expired), 422, "invalid_proof")
    stranger = _certificate(node, Account.create(), message)
    assert "not signed by an oracle" in _refused(
        _attest(http, node, agent, message, stranger), 422, "invalid_proof"
    )
    forged = {**_certificate(node, oracle_accounts[0], message), "signature": "0x" + "11" * 65}
    _refused(_attest(http, node, agent, message, forged), 422, "invalid_proof")


def test_cosign_refuses_an_unapproved_entry_and_a_stale_config(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    provider: LocalAccount,
    agent: LocalAccount,
    oracle_accounts: list[LocalAccount],
    message: GpuAttestation,
) -> None:
    approved = message
    answer = _attest(http, node, agent, approved, _certificate(node, oracle_accounts[0], approved))
    assert answer.status_code == 200, answer.text
    version = answer.json()["configVersion"]
    never = _message(w3, provider, agent, 1)

    def entry(m: GpuAttestation) -> dict[str, Any]:
        return {
            "attestation": AttestationBody.of(m).model_dump(mode="json"),
            "signature": "0x" + sign_digest(agent, m.digest(node.client.domain)).hex(),
            "approvals": [],
        }

    def cosign(config_version: int, *messages: GpuAttestation) -> Any:
        body = {"configVersion": config_version, "entries": [entry(m) for m in messages]}
        return http.post("/v1/batches/cosign", json=body)

    assert cosign(version, approved).status_code == 200
    detail = _refused(cosign(version, approved, never), 409, "not_approved")
    assert never.gpu_key.hex() in detail
    _refused(cosign(version + 1, approved), 409, "wrong_config_version")
    if version > 0:
        _refused(cosign(version - 1, approved), 409, "wrong_config_version")
