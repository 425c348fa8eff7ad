"""The agent's oracle client against the oracle's app in-process: models of depin.wire on both
sides, from a proof-of-compute challenge to an approval, and refusals as typed codes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from attest_helpers import H100, H100_MEMORY, chain_now
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from agent.oracles import OracleClient, OracleRefusedError
from agent.prover import NumpyProver, run_batch
from depin.attestation import GpuAttestation, gpu_key, sign_digest
from depin.wire import (
    AttestationBody,
    AttestationRequest,
    CertificateBody,
    CommitRequest,
    RefusalCode,
    RevealBody,
)
from oracle.app import create_app
from oracle.node import OracleNode

pytestmark = pytest.mark.integration

SIM = "sim:" + H100
URL = "http://oracle.test"


@pytest.fixture
def oracle(node: OracleNode) -> Iterator[OracleClient]:
    with TestClient(create_app(node, transmit=False), base_url=URL) as http:
        yield OracleClient(URL, http)


def _prove(
    oracle: OracleClient, provider: LocalAccount, agent: LocalAccount
) -> list[CertificateBody]:
    keys = [gpu_key("nvidia", f"GPU-{i}-{provider.address}") for i in range(2)]
    issued = oracle.challenge(provider.address, agent.address, SIM, keys)
    assert [g.gpu_key for g in issued.gpus] == keys
    runs = run_batch(issued.batch, lambda _: NumpyProver())
    commit = CommitRequest(batch_id=issued.batch.batch_id, commitments=[r.commitment for r in runs])
    by_id = {r.challenge.challenge_id: r for r in runs}
    responses = [by_id[q.challenge_id].reveal(q) for q in oracle.commit(commit).requests]
    verdict = oracle.reveal(RevealBody(batch_id=issued.batch.batch_id, responses=responses))
    assert [c.gpu_key for c in verdict.certificates] == keys
    return list(verdict.certificates)


def _request(
    node: OracleNode, w3: Web3, agent: LocalAccount, certificate: CertificateBody, age: int = 5
) -> AttestationRequest:
    now = chain_now(w3)
    message = GpuAttestation(
        provider=certificate.provider, agent=certificate.agent, gpu_key=certificate.gpu_key,
        vendor_id=0x10DE, model=certificate.model, memory_bytes=H100_MEMORY, fp32_gflops=100,
        fp16_gflops=100, memory_bandwidth_gbps=10,
        proven_int8_gops=certificate.proven_int8_gops, challenge=certificate.challenge,
        measured_at=now - age, expires_at=now + 3600,
    )  # fmt: skip
    return AttestationRequest(
        attestation=AttestationBody.of(message),
        signature=sign_digest(agent, message.digest(node.client.domain)),
        proof=certificate,
    )


def test_the_agent_client_proves_and_gets_an_approval_in_models(
    oracle: OracleClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    info = oracle.info()
    assert info.oracle == node.account.address and not info.transmitter
    certificate = _prove(oracle, provider, agent)[0]
    approval = oracle.attest(_request(node, w3, agent, certificate))
    assert approval.oracle == node.account.address
    assert approval.config_version == info.config_version
    assert len(approval.signature) == 65


def test_a_refusal_reaches_the_agent_as_its_typed_code(
    oracle: OracleClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    certificate = _prove(oracle, provider, agent)[0]
    oracle.attest(_request(node, w3, agent, certificate))
    with pytest.raises(OracleRefusedError) as replayed:  # another attestation, same challenge
        oracle.attest(_request(node, w3, agent, certificate, age=6))
    assert replayed.value.refusal is RefusalCode.CHALLENGE_REPLAYED
    assert replayed.value.status == 422

    stranger = Account.create()
    with pytest.raises(OracleRefusedError) as unauthorized:
        oracle.challenge(provider.address, stranger.address, SIM, [b"\x01" * 32])
    assert unauthorized.value.refusal is RefusalCode.UNAUTHORIZED_AGENT
    assert unauthorized.value.status == 403


def test_the_oracle_answers_unknown_routes_and_methods_as_problems(
    oracle: OracleClient, node: OracleNode
) -> None:
    http = oracle.http
    missing = http.get(URL + "/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "not_found"
    assert missing.json()["type"] == "urn:depin:problem:not-found"
    wrong = http.get(URL + "/v1/attestations")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["code"] == "method_not_allowed"
    garbled = http.post(
        URL + "/v1/attestations",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert garbled.status_code == 422
    assert garbled.headers["content-type"].startswith("application/problem+json")
    assert garbled.json()["code"] == "malformed_request"
