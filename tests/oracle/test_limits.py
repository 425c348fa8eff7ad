"""What one client may make the oracle do: bodies above the route's limit are refused before
they are read (413 ``body_too_large``), a named agent (else an IP) over its rate gets 429
``rate_limited`` with Retry-After, and an honest agent's round never meets either limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from attest_helpers import H100
from clock_helpers import FakeClock
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from agent.oracles import OracleClient, OracleRefusedError
from agent.prover import NumpyProver, run_batch
from depin.attestation import gpu_key
from depin.chain import Anvil
from depin.wire import CommitRequest, RefusalCode, RevealBody
from oracle.app import create_app
from oracle.limits import RequestLimits, TokenBuckets
from oracle.node import OracleNode
from oracle.settings import OracleSettings

AGENT = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20
URL = "http://oracle.test"


class Behind:
    """The app behind the limits: records the bodies it was given, answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def _call(
    limits: RequestLimits,
    path: str,
    chunks: list[bytes],
    *,
    method: str = "POST",
    length: int | None = None,
    query: bytes = b"",
    ip: str = "10.0.0.1",
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One request through the middleware; returns (status, headers, JSON body)."""
    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": headers,
        "client": (ip, 5000),
    }
    queue = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks or [b""])
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(limits(scope, receive, send))
    start, body = sent[0], sent[1]
    out_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], out_headers, json.loads(body["body"] or b"{}")


def _limits(behind: Behind, clock: FakeClock | None = None, **overrides: Any) -> RequestLimits:
    options: dict[str, Any] = {
        "max_body": 1024,
        "max_peer_body": 8192,
        "rate": 1.0,
        "burst": 3,
    }
    options.update(overrides)
    return RequestLimits(behind, clock=clock or FakeClock(1000.0), **options)


def _heartbeat(agent: str = AGENT, pad: int = 0) -> bytes:
    return json.dumps({"provider": OTHER, "agent": agent, "reasons": ["x" * pad]}).encode()


def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read() -> None:
    behind = Behind()
    limits = _limits(behind)
    status, headers, problem = _call(limits, "/v1/heartbeats", [], length=10_000_000)
    assert status == 413 and problem["code"] == RefusalCode.BODY_TOO_LARGE
    assert headers["content-type"] == "application/problem+json"
    assert "larger than 1024 bytes (10000000 bytes declared)" in problem["detail"]
    assert behind.bodies == []


def test_a_streamed_body_is_counted_and_refused_once_it_passes_the_limit() -> None:
    behind = Behind()
    limits = _limits(behind)
    chunks = [b"x" * 600, b"x" * 600, b"never read"]
    status, _, problem = _call(limits, "/v1/attestations", chunks)
    assert status == 413 and problem["code"] == "body_too_large"
    assert behind.bodies == []
    # a Content-Length that lies low does not help
    status, _, problem = _call(limits, "/v1/attestations", chunks, length=10)
    assert status == 413 and problem["code"] == "body_too_large"


def test_a_body_within_the_limit_reaches_the_route_whole() -> None:
    behind = Behind()
    limits = _limits(behind)
    body = _heartbeat(pad=500)
    status, _, _ = _call(limits, "/v1/heartbeats", [body[:100], body[100:]], length=len(body))
    assert status == 200 and behind.bodies == [body]


def test_peer_routes_that_carry_evidence_have_the_larger_limit() -> None:
    behind = Behind()
    limits = _limits(behind)
    evidence = b'{"epoch":1,"heartbeats":"' + b"x" * 4000 + b'"}'
    for path in ("/v1/liveness/evidence", "/v1/liveness/cosign"):
        assert _call(limits, path, [evidence], length=len(evidence))[0] == 200
        status, _, problem = _call(limits, path, [b"x" * 9000], length=9000)
        assert status == 413 and problem["code"] == "body_too_large"
    status, _, problem = _call(limits, "/v1/heartbeats", [evidence], length=len(evidence))
    assert status == 413 and problem["code"] == "body_too_large"


def test_an_agent_over_its_rate_is_told_when_to_retry_and_others_are_not_slowed() -> None:
    clock = FakeClock(1000.0)
    behind = Behind()
    limits = _limits(behind, clock)
    for _ in range(3):  # the burst
        assert _call(limits, "/v1/heartbeats", [_heartbeat()])[0] == 200
    status, headers, problem = _call(limits, "/v1/heartbeats", [_heartbeat()])
    assert status == 429 and problem["code"] == RefusalCode.RATE_LIMITED
    assert headers["retry-after"] == "1"
    assert f"agent {AGENT}" in problem["detail"]
    # the key is the agent, not the IP: the same agent from another address is still limited,
    # another agent behind the same address is not
    assert _call(limits, "/v1/heartbeats", [_heartbeat()], ip="10.9.9.9")[0] == 429
    assert _call(limits, "/v1/attestations", [_heartbeat(OTHER)])[0] == 200
    # a checksummed address is the same agent
    upper = _heartbeat("0x" + "AB" * 20)
    assert _call(limits, "/v1/heartbeats", [upper])[0] == 429
    clock.now += 1.0
    assert _call(limits, "/v1/heartbeats", [_heartbeat()])[0] == 200
    assert _call(limits, "/v1/heartbeats", [_heartbeat()])[0] == 429


def test_a_challenge_is_keyed_by_its_agent_parameter_and_an_anonymous_request_by_ip() -> None:
    clock = FakeClock(1000.0)
    limits = _limits(Behind(), clock, burst=1)
    query = f"provider={OTHER}&agent={AGENT}&model=m&gpu=0x01".encode()
    assert _call(limits, "/v1/challenge", [], method="GET", query=query)[0] == 200
    status, _, problem = _call(limits, "/v1/challenge", [], method="GET", query=query)
    assert status == 429 and f"agent {AGENT}" in problem["detail"]
    commit = b'{"batch_id":"b","commitments":[]}'
    assert _call(limits, "/v1/proofs/commit", [commit], ip="10.0.0.7")[0] == 200
    status, _, problem = _call(limits, "/v1/proofs/reveal", [commit], ip="10.0.0.7")
    assert status == 429 and "client 10.0.0.7" in problem["detail"]
    assert _call(limits, "/v1/proofs/reveal", [commit], ip="10.0.0.8")[0] == 200
    # monitoring is never limited
    for _ in range(3):
        assert _call(limits, "/healthz", [], method="GET", ip="10.0.0.7")[0] == 200


def test_a_rate_of_zero_turns_the_limit_off() -> None:
    limits = _limits(Behind(), rate=0.0, burst=1)
    for _ in range(20):
        assert _call(limits, "/v1/heartbeats", [_heartbeat()])[0] == 200


def test_buckets_are_bounded_and_forget_the_least_recently_used() -> None:
    clock = FakeClock(1000.0)
    buckets = TokenBuckets(1.0, 1, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        assert buckets.take(key) == 0.0
    assert buckets.take("a") == pytest.approx(1.0)  # empty: a second to the next token
    assert buckets.take("d") == 0.0 and len(buckets) == 3  # "b" was the least recent
    assert buckets.take("b") == 0.0
    clock.now += 0.5
    assert buckets.take("b") == pytest.approx(0.5)


def test_an_honest_agents_traffic_never_meets_the_defaults() -> None:
    """An attestation round of 8 GPUs of 8 different models (a challenge, commit and reveal per
    model group, an attestation and a bundle per GPU, the oracle's info), on one oracle at
    once, then heartbeats a few times per epoch, then the next round: nothing is refused."""
    settings = OracleSettings(_env_file=None)  # type: ignore[call-arg]
    clock = FakeClock(1000.0)
    limits = RequestLimits(
        Behind(),
        max_body=settings.max_body_bytes,
        max_peer_body=settings.max_peer_body_bytes,
        rate=settings.rate_per_agent,
        burst=settings.burst_per_agent,
        clock=clock,
    )
    attestation = json.dumps({"attestation": {"provider": OTHER, "agent": AGENT}}).encode()
    query = f"provider={OTHER}&agent={AGENT}&model=m&gpu=0x01".encode()

    def round_() -> list[int]:
        statuses = [_call(limits, "/v1/info", [], method="GET")[0]]
        for _ in range(8):
            statuses.append(_call(limits, "/v1/challenge", [], method="GET", query=query)[0])
            statuses.append(_call(limits, "/v1/proofs/commit", [b'{"batch_id":"b"}'])[0])
            statuses.append(_call(limits, "/v1/proofs/reveal", [b'{"batch_id":"b"}'])[0])
        for _ in range(8):
            statuses.append(_call(limits, "/v1/attestations", [attestation])[0])
        for _ in range(8):
            statuses.append(_call(limits, "/v1/bundles", [attestation])[0])
        return statuses

    assert set(round_()) == {200}
    for _ in range(3):  # a few heartbeats in the epoch that follows
        clock.now += 60.0
        assert _call(limits, "/v1/heartbeats", [_heartbeat(pad=2000)])[0] == 200
    assert set(round_()) == {200}  # a re-attestation right after


# ---------------------------------------------------------------------- the real oracle app


@pytest.fixture
def make_oracle(
    anvil: Anvil, home: Path, attestations: Any, oracle_accounts: list[LocalAccount]
) -> Iterator[Callable[..., OracleClient]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> OracleClient:
        settings = OracleSettings(
            rpc_url=anvil.rpc_url,
            home=home,
            name=f"o{len(clients)}",
            liveness=False,
            proof_params="cpu",
            allow_simulated=True,
            **overrides,
        )
        node = OracleNode(settings, oracle_accounts[0])
        http = TestClient(create_app(node, transmit=False), base_url=URL)
        http.__enter__()
        clients.append(http)
        return OracleClient(URL, http)

    yield make
    for http in clients:
        http.__exit__(None, None, None)


@pytest.mark.integration
def test_the_oracle_refuses_an_oversized_heartbeat_and_a_flooding_agent(
    make_oracle: Callable[..., OracleClient], provider: LocalAccount, agent: LocalAccount
) -> None:
    oracle = make_oracle(rate_per_agent=0.001, burst_per_agent=2)
    huge = oracle.http.post(
        URL + "/v1/heartbeats",
        content=b"x" * (2 << 20),
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.headers["content-type"].startswith("application/problem+json")
    assert huge.json()["code"] == "body_too_large"

    keys = [gpu_key("nvidia", f"GPU-flood-{i}") for i in range(1)]
    oracle.challenge(provider.address, agent.address, "sim:" + H100, keys)
    oracle.challenge(provider.address, agent.address, "sim:" + H100, keys)
    with pytest.raises(OracleRefusedError) as refused:
        oracle.challenge(provider.address, agent.address, "sim:" + H100, keys)
    assert refused.value.refusal is RefusalCode.RATE_LIMITED and refused.value.status == 429


@pytest.mark.integration
def test_an_honest_round_of_eight_gpus_passes_the_default_limits(
    make_oracle: Callable[..., OracleClient], provider: LocalAccount, agent: LocalAccount
) -> None:
    oracle = make_oracle()
    for _ in range(2):  # a round, and the re-attestation right after it
        keys = [gpu_key("nvidia", f"GPU-{i}-{provider.address}") for i in range(8)]
        oracle.info()
        for key in keys:  # one model group per GPU: the most requests a round makes
            issued = oracle.challenge(provider.address, agent.address, "sim:" + H100, [key])
            runs = run_batch(issued.batch, lambda _: NumpyProver())
            commit = CommitRequest(
                batch_id=issued.batch.batch_id, commitments=[r.commitment for r in runs]
            )
            by_id = {r.challenge.challenge_id: r for r in runs}
            requests = oracle.commit(commit).requests
            responses = [by_id[q.challenge_id].reveal(q) for q in requests]
            verdict = oracle.reveal(RevealBody(batch_id=issued.batch.batch_id, responses=responses))
            assert [c.gpu_key for c in verdict.certificates] == [key]
