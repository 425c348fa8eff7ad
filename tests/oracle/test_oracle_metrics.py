"""The oracle's /metrics on its own port: Prometheus text whose counters move as attestations and
heartbeats are approved or refused (by reason), with latency by route template."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from attest_helpers import agent_sign, challenged, new_attestation, settled_epoch, submit
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from metrics_helpers import Samples, parse_samples, value
from web3 import Web3

from depin.attestation import ALL_WELL, Heartbeat
from depin.attestation_client import AttestationClient
from depin.crypto import sign_digest
from depin.wire import HeartbeatRequest
from oracle.node import OracleNode

pytestmark = pytest.mark.integration


def scrape(http: TestClient) -> Samples:
    """``/metrics`` parsed: ``{(sample name, sorted labels): value}``."""
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse_samples(response.text)


@pytest.fixture
def node(make_node: Callable[..., OracleNode]) -> OracleNode:
    return make_node(require_proof=False)


def _attestation_body(
    http: TestClient, node: OracleNode, w3: Web3, provider: LocalAccount, signer: LocalAccount
) -> dict[str, Any]:
    return challenged(http, node, signer, new_attestation(w3, provider, signer))[1]


def test_attestations_approved_and_refused_move_their_counters_by_reason(
    http: TestClient,
    node: OracleNode,
    w3: Web3,
    provider: LocalAccount,
    agent: LocalAccount,
) -> None:
    before = scrape(http)
    assert http.post(
        "/v1/attestations", json=_attestation_body(http, node, w3, provider, agent)
    ).is_success
    stranger = Account.create()  # not authorized by the provider
    refused = http.post(
        "/v1/attestations", json=_attestation_body(http, node, w3, provider, stranger)
    )
    assert refused.json()["code"] == "unauthorized_agent"
    assert http.post("/v1/attestations", json={"attestation": 1}).status_code == 422
    after = scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("depin_oracle_attestations_approved_total") == 1
    assert moved("depin_oracle_attestations_refused_total", reason="unauthorized_agent") == 1
    assert moved("depin_oracle_attestations_refused_total", reason="malformed_request") == 1
    # latency by route template (the challenge route, with its query, is one series)
    assert (
        moved("depin_http_request_duration_seconds_count", method="POST", route="/v1/attestations")
        == 3
    )
    assert moved("depin_http_request_duration_seconds_count", method="GET", route="/v1/challenge")
    assert moved("depin_http_requests_total", route="/v1/attestations", status="422") == 1
    # a gauge read when scraped
    assert ("depin_oracle_heartbeat_pending_writes", ()) in after


def test_an_unknown_path_is_one_series_not_one_per_path(http: TestClient) -> None:
    before = scrape(http)
    for i in range(3):
        assert http.get(f"/no/such/{i}").status_code == 404
    after = scrape(http)
    route = {"method": "GET", "route": "<unmatched>"}
    name = "depin_http_request_duration_seconds_count"
    assert value(after, name, **route) - value(before, name, **route) == 3
    assert not any("/no/such" in str(labels) for _, labels in after)


def test_heartbeats_accepted_and_refused_move_their_counters(
    w3: Web3,
    http: TestClient,
    node: OracleNode,
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
) -> None:
    message = new_attestation(w3, provider, agent)
    submit(
        attestations,
        oracle_accounts[0],
        [(message, agent_sign(attestations, agent, message))],
        oracle_accounts[:2],
    )
    node.facts.sync()
    epoch = settled_epoch(node)

    def beat(at: int) -> dict[str, Any]:
        raw = bytes([ALL_WELL])
        signed = Heartbeat(provider.address, agent.address, (message.gpu_key,), at, raw)
        return HeartbeatRequest(
            provider=provider.address,
            agent=agent.address,
            gpu_keys=[message.gpu_key],
            epoch=at,
            status=raw,
            signature=sign_digest(agent, signed.digest(attestations.domain)),
        ).model_dump(mode="json")

    before = scrape(http)
    assert http.post("/v1/heartbeats", json=beat(epoch)).status_code == 200
    stale = http.post("/v1/heartbeats", json=beat(epoch - 1))
    assert stale.json()["code"] == "stale_epoch"
    after = scrape(http)
    accepted = "depin_oracle_heartbeats_accepted_total"
    assert value(after, accepted) - value(before, accepted) == 1
    refused = "depin_oracle_heartbeats_refused_total"
    stale_refusals = value(after, refused, reason="stale_epoch")
    assert stale_refusals - value(before, refused, reason="stale_epoch") == 1
