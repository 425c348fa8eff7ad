"""Proof of compute through the oracle's HTTP API: challenge, commitments, reveal, certificate,
approval; simulated GPUs; every refusal with its code."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from attest_helpers import H100, H100_MEMORY, chain_now
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from agent.prover import NumpyProver, run_batch
from depin.attestation import GpuAttestation, gpu_key, model_bytes, sign_digest
from depin.proof import ChallengeBatch, RevealRequest
from depin.proof.certificate import ProofCertificate
from depin.simulation import simulated_allowed
from depin.wire import AttestationBody
from oracle.app import create_app
from oracle.node import OracleNode

pytestmark = pytest.mark.integration

SIM = "sim:" + H100


def _problem(response: Any) -> str:
    assert response.status_code >= 400, response.text
    return str(response.json()["code"])


def _challenge(
    http: TestClient, provider: LocalAccount, agent: LocalAccount, model: str, n: int = 2
) -> Any:
    keys = [gpu_key("nvidia", f"GPU-{i}-{provider.address}") for i in range(n)]
    params = {
        "provider": provider.address,
        "agent": agent.address,
        "model": model,
        "gpu": ["0x" + k.hex() for k in keys],
    }
    return http.get("/v1/challenge", params=params)


def _prove(http: TestClient, issued: dict[str, Any], tamper: bool = False) -> tuple[Any, list[Any]]:
    batch = ChallengeBatch.model_validate(issued["batch"])
    runs = run_batch(batch, lambda _: NumpyProver())
    commit = {
        "batchId": batch.batch_id,
        "commitments": [r.commitment.model_dump(mode="json") for r in runs],
    }
    answer = http.post("/v1/proofs/commit", json=commit)
    if answer.status_code != 200:
        return answer, []
    by_id = {r.challenge.challenge_id: r for r in runs}
    responses = []
    for raw in answer.json()["requests"]:
        request = RevealRequest.model_validate(raw)
        response = by_id[request.challenge_id].reveal(request).model_dump(mode="json")
        if tamper:
            row = np.frombuffer(base64.b64decode(response["openings"][0]["values"]), "<i4").copy()
            row[0] += 1
            response["openings"][0]["values"] = base64.b64encode(row.tobytes()).decode()
        responses.append(response)
    verdict = http.post(
        "/v1/proofs/reveal", json={"batchId": batch.batch_id, "responses": responses}
    )
    return verdict, runs


def _attestation(
    node: OracleNode, w3: Web3, certificate: dict[str, Any], **overrides: Any
) -> dict[str, Any]:
    cert, _ = ProofCertificate.from_json(certificate)
    now = chain_now(w3)
    message = GpuAttestation(
        provider=cert.provider, agent=cert.agent, gpu_key=cert.gpu_key, vendor_id=0x10DE,
        model=cert.model, memory_bytes=H100_MEMORY, fp32_gflops=100, fp16_gflops=100,
        memory_bandwidth_gbps=10, proven_int8_gops=cert.proven_int8_gops,
        challenge=cert.challenge, measured_at=now - 5, expires_at=now + 3600,
    )  # fmt: skip
    return replace(message, **overrides) if overrides else message  # type: ignore[return-value]


def _body(node: OracleNode, agent: LocalAccount, message: GpuAttestation, proof: Any) -> Any:
    return {
        "attestation": AttestationBody.of(message).model_dump(mode="json"),
        "signature": "0x" + sign_digest(agent, message.digest(node.client.domain)).hex(),
        "proof": proof,
    }


def test_a_simulated_gpu_proves_and_is_approved_with_the_proven_figure(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    issued = _challenge(http, provider, agent, SIM)
    assert issued.status_code == 200, issued.text
    verdict, _ = _prove(http, issued.json())
    assert verdict.status_code == 200, verdict.text
    results, certificates = verdict.json()["results"], verdict.json()["certificates"]
    assert len(certificates) == 2
    for result, certificate, gpu in zip(results, certificates, issued.json()["gpus"], strict=True):
        assert certificate["provenInt8Gops"] == int(result["attested_tops"] * 1000)
        assert certificate["challenge"] == gpu["challenge"]
        message = _attestation(node, w3, certificate)
        approval = http.post("/v1/attestations", json=_body(node, agent, message, certificate))
        assert approval.status_code == 200, approval.text
    # A self-reported figure is not the proven one.
    message = _attestation(node, w3, certificates[0], proven_int8_gops=1_700_000)
    refused = http.post("/v1/attestations", json=_body(node, agent, message, certificates[0]))
    assert _problem(refused) == "proof_mismatch"


def test_a_challenge_outlives_restarts_of_the_oracle(
    make_node: Callable[..., OracleNode], provider: LocalAccount, agent: LocalAccount
) -> None:
    def restarted() -> TestClient:
        # A fresh node on the same database, as after a restart of the oracle.
        node = make_node(proof_params="cpu", allow_simulated=True)
        return TestClient(create_app(node, transmit=False))

    with restarted() as http:
        issued = _challenge(http, provider, agent, SIM).json()
    batch = ChallengeBatch.model_validate(issued["batch"])
    runs = run_batch(batch, lambda _: NumpyProver())
    commit = {
        "batchId": batch.batch_id,
        "commitments": [r.commitment.model_dump(mode="json") for r in runs],
    }
    with restarted() as http:
        answer = http.post("/v1/proofs/commit", json=commit)
    assert answer.status_code == 200, answer.text
    by_id = {r.challenge.challenge_id: r for r in runs}
    reveal = {
        "batchId": batch.batch_id,
        "responses": [
            by_id[q.challenge_id].reveal(q).model_dump(mode="json")
            for q in map(RevealRequest.model_validate, answer.json()["requests"])
        ],
    }
    with restarted() as http:
        verdict = http.post("/v1/proofs/reveal", json=reveal)
    assert verdict.status_code == 200, verdict.text
    certificates = verdict.json()["certificates"]
    assert [c["challenge"] for c in certificates] == [g["challenge"] for g in issued["gpus"]]
    assert [c["gpuKey"] for c in certificates] == [g["gpuKey"] for g in issued["gpus"]]
    assert {(c["provider"], c["agent"]) for c in certificates} == {
        (provider.address, agent.address)
    }
    # The consumed challenge is remembered across another restart.
    with restarted() as http:
        assert _problem(http.post("/v1/proofs/reveal", json=reveal)) == "replayed_challenge"
        assert _problem(http.post("/v1/proofs/commit", json=commit)) == "replayed_challenge"


def test_simulated_gpus_are_refused_unless_allowed(
    make_node: Callable[..., OracleNode], provider: LocalAccount, agent: LocalAccount
) -> None:
    node = make_node(proof_params="cpu", allow_simulated=False)
    with TestClient(create_app(node, transmit=False)) as http:
        assert _problem(_challenge(http, provider, agent, SIM)) == "simulated_not_allowed"
        assert http.get("/v1/info").json()["allowSimulated"] is False
    assert simulated_allowed(True, 31337) and simulated_allowed(True, 1337)
    assert not simulated_allowed(True, 1) and not simulated_allowed(True, 42161)
    assert not simulated_allowed(False, 31337)


def test_a_simulated_attestation_is_refused_where_not_allowed(
    make_node: Callable[..., OracleNode], w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    allowing = make_node(proof_params="cpu", allow_simulated=True, oracle=1)
    refusing = make_node(proof_params="cpu", allow_simulated=False, name="o1")
    with (
        TestClient(create_app(allowing, transmit=False)) as a,
        TestClient(create_app(refusing, transmit=False)) as b,
    ):
        verdict, _ = _prove(a, _challenge(a, provider, agent, SIM, n=1).json())
        certificate = verdict.json()["certificates"][0]
        message = _attestation(refusing, w3, certificate)
        refused = b.post("/v1/attestations", json=_body(refusing, agent, message, certificate))
        assert _problem(refused) == "simulated_not_allowed"


def test_a_cpu_cannot_prove_an_h100(
    http: TestClient, provider: LocalAccount, agent: LocalAccount
) -> None:
    issued = _challenge(http, provider, agent, H100, n=1)
    assert issued.status_code == 200
    verdict, _ = _prove(http, issued.json())
    assert _problem(verdict) == "late_commitment"


def test_a_wrong_row_is_refused(
    http: TestClient, provider: LocalAccount, agent: LocalAccount
) -> None:
    verdict, _ = _prove(http, _challenge(http, provider, agent, SIM, n=1).json(), tamper=True)
    assert _problem(verdict) in ("digest_mismatch", "row_mismatch")


def test_certificates_and_proofs_are_required(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    verdict, _ = _prove(http, _challenge(http, provider, agent, SIM, n=1).json())
    certificate = verdict.json()["certificates"][0]
    message = _attestation(node, w3, certificate)
    # no proof at all
    body = _body(node, agent, message, None)
    body.pop("proof")
    body["challenge"] = http.get("/v1/challenge").json()
    assert _problem(http.post("/v1/attestations", json=body)) == "proof_required"
    # a certificate signed by a key that is not an oracle
    cert, _ = ProofCertificate.from_json(certificate)
    stranger = Account.create()
    forged = replace(cert, issuer=stranger.address)
    forged_json = forged.to_json(sign_digest(stranger, forged.digest(node.client.domain)))
    refused = http.post("/v1/attestations", json=_body(node, agent, message, forged_json))
    assert _problem(refused) == "invalid_proof"
    # the real certificate: approved (idempotently), and never for a second attestation
    assert http.post("/v1/attestations", json=_body(node, agent, message, certificate)).is_success
    assert http.post("/v1/attestations", json=_body(node, agent, message, certificate)).is_success
    other = replace(message, fp32_gflops=message.fp32_gflops + 1)
    again = http.post("/v1/attestations", json=_body(node, agent, other, certificate))
    assert _problem(again) == "challenge_replayed"


def test_an_unauthorized_agent_gets_no_challenge(http: TestClient, provider: LocalAccount) -> None:
    stranger = Account.create()
    assert _problem(_challenge(http, provider, stranger, SIM)) == "unauthorized_agent"


_ = model_bytes
