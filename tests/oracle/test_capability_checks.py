"""Capability documents at the oracle: the attested hash, what the document may not contradict,
and the forwarding of checked documents to the inventory API."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from attest_helpers import agent_sign, challenged, host_document, new_attestation, submit
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from depin.attestation import GpuAttestation, model_bytes
from depin.capabilities import CapabilityDocument, document_hash
from depin.crypto import to_hex
from oracle.capabilities import InventoryForwarder
from oracle.node import OracleNode

pytestmark = pytest.mark.integration


@pytest.fixture
def node(make_node: Callable[..., OracleNode]) -> OracleNode:
    return make_node(require_proof=False)


def _post(
    http: TestClient,
    node: OracleNode,
    agent: LocalAccount,
    message: GpuAttestation,
    document: CapabilityDocument | dict[str, Any] | None,
) -> httpx.Response:
    _, body = challenged(http, node, agent, message)
    if document is not None:
        body["capabilities"] = (
            document.as_json() if isinstance(document, CapabilityDocument) else document
        )
    return http.post("/v1/attestations", json=body)


def _refused(response: httpx.Response, code: str, *words: str) -> None:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    problem = response.json()
    assert (response.status_code, problem["code"]) == (422, code), problem
    for word in words:
        assert word in problem["detail"], problem


def _named(
    w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> tuple[GpuAttestation, CapabilityDocument]:
    message = new_attestation(w3, provider, agent)
    document = host_document([message, new_attestation(w3, provider, agent)])
    return replace(message, capabilities=document_hash(document)), document


def test_an_attestation_with_its_document_is_approved(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    message, document = _named(w3, provider, agent)
    response = _post(http, node, agent, message, document)
    assert response.status_code == 200, response.text


def test_an_attestation_without_a_document_is_approved(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    response = _post(http, node, agent, new_attestation(w3, provider, agent), None)
    assert response.status_code == 200, response.text


def test_a_named_document_that_did_not_come_is_refused(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    message, document = _named(w3, provider, agent)
    _refused(
        _post(http, node, agent, message, None),
        "capabilities_hash_mismatch",
        to_hex(document_hash(document)),
        "none came",
    )


def test_another_document_than_the_attested_one_is_refused(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    message, document = _named(w3, provider, agent)
    bigger = document.model_copy(
        update={"host": document.host.model_copy(update={"ram_gib": 2048})}
    )
    _refused(
        _post(http, node, agent, message, bigger),
        "capabilities_hash_mismatch",
        to_hex(document_hash(bigger)),
    )


def test_a_document_with_an_attestation_that_names_none_is_refused(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    message, document = _named(w3, provider, agent)
    unnamed = replace(message, capabilities=bytes(32))
    _refused(
        _post(http, node, agent, unnamed, document), "capabilities_hash_mismatch", "no capability"
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("missing", ("the GPU list",)),
        ("model", ("model", "nvidia-a100-sxm4-80gb", "nvidia-h100-sxm5-80gb")),
        ("memory", ("memoryBytes", "85899345920", "85899345919")),
    ],
)
def test_a_document_that_contradicts_the_attestation_is_refused(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    provider: LocalAccount,
    agent: LocalAccount,
    change: str,
    words: tuple[str, ...],
) -> None:
    message = new_attestation(w3, provider, agent)
    listed = message
    if change == "missing":
        listed = new_attestation(w3, provider, agent)
    elif change == "model":
        listed = replace(message, model=model_bytes("nvidia-a100-sxm4-80gb"))
    else:
        listed = replace(message, memory_bytes=message.memory_bytes - 1)
    document = host_document([listed])
    named = replace(message, capabilities=document_hash(document))
    _refused(_post(http, node, agent, named, document), "capabilities_contradiction", *words)


def test_a_document_listing_another_providers_gpu_is_refused(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    provider: LocalAccount,
    agent: LocalAccount,
    make_provider: Callable[..., LocalAccount],
    make_agent: Callable[..., LocalAccount],
    oracle_accounts: list[LocalAccount],
) -> None:
    # another provider's GPU, attested on the chain and seen by the oracle
    other = make_provider()
    other_agent = make_agent(other)
    theirs = new_attestation(w3, other, other_agent)
    submit(
        node.client,
        other,
        [(theirs, agent_sign(node.client, other_agent, theirs))],
        oracle_accounts[:2],
    )
    node.facts.sync()
    assert node.current_provider(theirs.gpu_key) == other.address

    message = new_attestation(w3, provider, agent)
    document = host_document([message, theirs])  # a host of two GPUs, one of them not its own
    named = replace(message, capabilities=document_hash(document))
    _refused(
        _post(http, node, agent, named, document),
        "capabilities_contradiction",
        to_hex(theirs.gpu_key),
        other.address,
    )
    # its own GPUs only: approved
    alone = host_document([message])
    response = _post(http, node, agent, replace(message, capabilities=document_hash(alone)), alone)
    assert response.status_code == 200, response.text


def test_a_document_outside_the_schema_is_malformed(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    message, document = _named(w3, provider, agent)
    raw = document.as_json()
    raw["host"]["gpu_count"] = 2
    response = _post(http, node, agent, message, raw)
    assert response.json()["code"] == "malformed_request", response.text
    assert "gpu_count" in response.text


def test_the_forwarder_offers_a_document_until_the_inventory_takes_it(
    w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    document = host_document([new_attestation(w3, provider, agent)])
    answers = iter([409, 503, 201])
    seen: list[tuple[str, dict[str, Any]]] = []

    def inventory(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, json.loads(request.content)))
        return httpx.Response(next(answers))

    forwarder = InventoryForwarder(
        "http://inventory.test/", http=httpx.Client(transport=httpx.MockTransport(inventory))
    )
    forwarder.offer(document)
    forwarder.offer(document)  # once per hash
    for _ in range(3):
        assert forwarder.pending() == 1
        forwarder.send_once()
    assert forwarder.pending() == 0
    path = f"/v1/capabilities/{to_hex(document_hash(document))}"
    assert seen == [(path, document.as_json())] * 3
    forwarder.offer(document)  # taken already: not offered again
    assert forwarder.pending() == 0


def test_the_forwarder_gives_up_on_a_refused_or_stale_document(
    w3: Web3, provider: LocalAccount, agent: LocalAccount
) -> None:
    now = [0.0]
    statuses = {"refused": 422, "stale": 409}
    documents = {name: host_document([new_attestation(w3, provider, agent)]) for name in statuses}
    by_hash = {to_hex(document_hash(d)): statuses[n] for n, d in documents.items()}

    def inventory(request: httpx.Request) -> httpx.Response:
        return httpx.Response(by_hash[request.url.path.rsplit("/", 1)[1]])

    forwarder = InventoryForwarder(
        "http://inventory.test",
        patience_s=60,
        http=httpx.Client(transport=httpx.MockTransport(inventory)),
        clock=lambda: now[0],
    )
    for document in documents.values():
        forwarder.offer(document)
    forwarder.send_once()
    assert forwarder.pending() == 1  # the refused one is settled; the stale one waits
    now[0] = 61
    forwarder.send_once()
    assert forwarder.pending() == 0 and not forwarder.delivered
