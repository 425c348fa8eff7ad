"""The oracle's HTTP pipeline on anvil: approvals and every refusal with its code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from attest_helpers import H100, chain_now, challenged, new_attestation
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from pydantic import SecretStr
from web3 import Web3

from depin.attestation import AttestationApproval, GpuAttestation, model_bytes
from depin.crypto import recover, sign_digest
from depin.errors import ConfigurationError
from depin.registry import RegistryClient
from oracle.node import OracleNode
from oracle.settings import OracleSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def node(make_node: Callable[..., OracleNode]) -> OracleNode:
    return make_node(require_proof=False)


def _request(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    provider: LocalAccount,
    agent: LocalAccount,
    signer: LocalAccount | None = None,
    token: dict[str, Any] | None = None,
    **overrides: Any,
) -> tuple[GpuAttestation, dict[str, Any]]:
    message = new_attestation(w3, provider, agent, **overrides)
    return challenged(http, node, signer or agent, message, token)


def _refused(response: Any, code: str) -> None:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    problem = response.json()
    assert problem["code"] == code, problem
    assert problem["status"] == response.status_code and problem["detail"]


def test_valid_attestation_is_approved(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    message, body = _request(http, node, w3, provider, agent)
    response = http.post("/v1/attestations", json=body)
    assert response.status_code == 200, response.text
    approval = response.json()
    digest = AttestationApproval(1, message).digest(node.client.domain)
    assert recover(digest, bytes.fromhex(approval["signature"][2:])) == node.account.address
    # Retrying the same attestation is idempotent (same approval, challenge not "replayed").
    assert http.post("/v1/attestations", json=body).json() == approval


def test_forged_signature_is_refused(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    _, body = _request(http, node, w3, provider, agent, signer=Account.create())
    _refused(http.post("/v1/attestations", json=body), "invalid_agent_signature")


def test_agent_of_another_provider_is_refused(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    provider: LocalAccount,
    make_provider: Callable[..., LocalAccount],
    make_agent: Callable[..., LocalAccount],
) -> None:
    other_agent = make_agent(make_provider())
    _, body = _request(http, node, w3, provider, other_agent)
    response = http.post("/v1/attestations", json=body)
    assert response.status_code == 403
    _refused(response, "unauthorized_agent")


def test_revoked_agent_is_refused(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    provider: LocalAccount,
    agent: LocalAccount,
    registry: RegistryClient,
) -> None:
    registry.revoke_agent(provider, agent.address)
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    node.chain._block = (0.0, -1)  # a new block: the per-block cache is stale
    _, body = _request(http, node, w3, provider, agent)
    _refused(http.post("/v1/attestations", json=body), "unauthorized_agent")


def test_expired_agent_is_refused(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    provider: LocalAccount,
    make_agent: Callable[..., LocalAccount],
) -> None:
    agent = make_agent(provider, ttl=3)
    w3.provider.make_request("evm_increaseTime", [10])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    _, body = _request(http, node, w3, provider, agent)
    _refused(http.post("/v1/attestations", json=body), "unauthorized_agent")


def test_replayed_challenge_is_refused(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    token = http.get("/v1/challenge").json()
    _, first = _request(http, node, w3, provider, agent, token=token)
    assert http.post("/v1/attestations", json=first).status_code == 200
    _, second = _request(http, node, w3, provider, agent, token=token)
    _refused(http.post("/v1/attestations", json=second), "challenge_replayed")


def test_expired_challenge_is_refused(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    token = http.get("/v1/challenge").json()
    real_clock = node.pipeline.clock
    node.pipeline.clock = lambda: real_clock() + 3600
    try:
        _, body = _request(
            http, node, w3, provider, agent, token=token, expires_at=chain_now(w3) + 7200
        )
        _refused(http.post("/v1/attestations", json=body), "challenge_expired")
    finally:
        node.pipeline.clock = real_clock


def test_challenge_from_outside_the_network_is_refused(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    token = http.get("/v1/challenge").json()
    outsider = Account.create()
    from oracle.pipeline import challenge_hash

    nonce = bytes.fromhex(token["nonce"][2:])
    digest = challenge_hash(
        node.client.domain, outsider.address, nonce, token["issuedAt"], token["expiresAt"]
    )
    forged = dict(token, issuer=outsider.address, challenge="0x" + digest.hex(),
                  signature="0x" + sign_digest(outsider, digest).hex())  # fmt: skip
    _, body = _request(http, node, w3, provider, agent, token=forged)
    _refused(http.post("/v1/attestations", json=body), "unknown_challenge")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"memory_bytes": 24 * 2**30}, "implausible_memory"),
        ({"proven_int8_gops": 2_500_000}, "throughput_above_peak"),
        ({"fp16_gflops": 5_000_000}, "throughput_above_peak"),
        # an H100 attested at 4,000,000,000 GB/s was once approved: bandwidth is checked too
        ({"memory_bandwidth_gbps": 4_000_000_000}, "throughput_above_peak"),
        ({"memory_bandwidth_gbps": 0}, "missing_figure"),
        ({"fp32_gflops": 0}, "missing_figure"),
        ({"fp16_gflops": 0}, "missing_figure"),
        ({"proven_int8_gops": 10_000}, "throughput_below_floor"),
        ({"model": model_bytes("nvidia-hx-9000")}, "unknown_model"),
        ({"vendor_id": 0x1002}, "vendor_mismatch"),
        ({"measured_at": 2**32 - 10}, "measured_in_future"),
    ],
)
def test_implausible_attestations_are_refused(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    provider: LocalAccount,
    agent: LocalAccount,
    overrides: dict[str, Any],
    code: str,
) -> None:
    _, body = _request(http, node, w3, provider, agent, **overrides)
    _refused(http.post("/v1/attestations", json=body), code)


def test_malformed_request_is_a_problem(http: TestClient) -> None:
    _refused(http.post("/v1/attestations", json={"attestation": {}}), "malformed_request")


def test_bundle_needs_t_approvals(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    _, body = _request(http, node, w3, provider, agent)
    approval = http.post("/v1/attestations", json=body).json()
    bundle = {
        "attestation": body["attestation"],
        "signature": body["signature"],
        "approvals": [approval],
    }
    _refused(http.post("/v1/bundles", json=bundle), "insufficient_approvals")
    bundle["approvals"] = [approval, approval]
    _refused(http.post("/v1/bundles", json=bundle), "insufficient_approvals")


def test_placeholder_password_refused_outside_dev_chain() -> None:
    settings = OracleSettings()
    settings.check_secrets(31337)
    with pytest.raises(ConfigurationError):
        settings.check_secrets(1)
    OracleSettings(password=SecretStr("real")).check_secrets(1)


_ = H100
