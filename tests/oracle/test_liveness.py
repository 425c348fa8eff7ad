"""Liveness in-process on anvil: heartbeats checked from the chain facts and committed before
they are answered, the evidence peers exchange, every refusal of a record with its code, and a
leader that merges what reached each oracle into one record on-chain."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from attest_helpers import agent_sign, new_attestation, oracle_node, settled_epoch, submit
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from depin.attestation import ALL_WELL, GpuAttestation, GpuStatus, Heartbeat, Liveness
from depin.attestation_client import AttestationClient
from depin.chain import Anvil
from depin.crypto import recover, sign_digest
from depin.registry import RegistryClient
from depin.wire import HeartbeatRequest, LivenessView
from oracle.app import create_app
from oracle.heartbeats import Accepted, EpochView, HeartbeatBook
from oracle.node import OracleNode

pytestmark = pytest.mark.integration

AVAILABLE, HEALTHY = int(GpuStatus.AVAILABLE), int(GpuStatus.HEALTHY)


class Peers:
    """The transmitter's HTTP client for in-process peers: ``http://<name>/...`` goes to that
    oracle's app; a name not here is down."""

    def __init__(self, apps: dict[str, TestClient]) -> None:
        self.apps = apps

    def post(self, url: str, json: Any) -> httpx.Response:
        client = self.apps.get(url.split("/")[2])
        if client is None:
            raise httpx.ConnectError(f"{url}: down")
        return client.post(url, json=json)


def _node(anvil: Anvil, home: Path, name: str, account: LocalAccount, peers: list[str]) -> Any:
    return oracle_node(anvil, home, account, name, peers=peers, require_proof=False)


@pytest.fixture
def nodes(
    anvil: Anvil, home: Path, attestations: AttestationClient, oracle_accounts: list[LocalAccount]
) -> list[OracleNode]:
    names = ["o0", "o1", "o2"]
    return [
        _node(anvil, home, n, a, [f"http://{p}" for p in names if p != n])
        for n, a in zip(names, oracle_accounts, strict=True)
    ]


@pytest.fixture
def apps(nodes: list[OracleNode]) -> Iterator[list[TestClient]]:
    clients = [TestClient(create_app(n, transmit=False)) for n in nodes]
    for node in nodes:
        node.transmitter.http = Peers(  # type: ignore[assignment]
            {f"o{i}": c for i, c in enumerate(clients) if nodes[i] is not node}
        )
    yield clients


def _attest(
    w3: Web3,
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    provider: LocalAccount,
    agent: LocalAccount,
    count: int,
    nodes: list[OracleNode],
) -> list[GpuAttestation]:
    messages = [new_attestation(w3, provider, agent) for _ in range(count)]
    submit(
        attestations,
        oracle_accounts[0],
        [(m, agent_sign(attestations, agent, m)) for m in messages],
        oracle_accounts[:2],
    )
    for node in nodes:
        node.facts.sync()
    return messages


def _beat(
    attestations: AttestationClient,
    provider: LocalAccount,
    agent: LocalAccount,
    keys: list[bytes],
    epoch: int,
    status: list[int] | None = None,
    signer: LocalAccount | None = None,
) -> HeartbeatRequest:
    raw = bytes(status if status is not None else [ALL_WELL] * len(keys))
    message = Heartbeat(provider.address, agent.address, tuple(keys), epoch, raw)
    return HeartbeatRequest(
        provider=provider.address,
        agent=agent.address,
        gpu_keys=keys,
        epoch=epoch,
        status=raw,
        signature=sign_digest(signer or agent, message.digest(attestations.domain)),
    )


def _index(attestations: AttestationClient, message: GpuAttestation) -> int:
    return attestations.gpu(message.gpu_key).index


def _refused(response: Any, code: str, status: int | None = None) -> None:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    assert response.json()["code"] == code, response.json()
    if status is not None:
        assert response.status_code == status


@pytest.fixture
def world(
    w3: Web3,
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    nodes: list[OracleNode],
    make_provider: Callable[..., LocalAccount],
    make_agent: Callable[..., LocalAccount],
) -> dict[str, Any]:
    """Provider P (agent A, GPUs g0, g1) and provider Q (agent B, GPU h0), attested."""
    p, q = make_provider(), make_provider()
    a, b = make_agent(p), make_agent(q)
    g = _attest(w3, attestations, oracle_accounts, p, a, 2, nodes)
    h = _attest(w3, attestations, oracle_accounts, q, b, 1, nodes)
    return {"p": p, "q": q, "a": a, "b": b, "g": g, "h": h, "epoch": settled_epoch(nodes[0])}


# ---------------------------------------------------------------------- the book


def test_merged_status_is_online_if_any_and_available_or_healthy_only_if_every_heartbeat_says_so(
    tmp_path: Path,
) -> None:
    view = EpochView()
    view.add(b"1", [(0, ALL_WELL), (1, ALL_WELL)])
    view.add(b"2", [(0, HEALTHY), (2, AVAILABLE)])
    assert view.statuses() == {0: GpuStatus.HEALTHY, 1: ALL_WELL, 2: GpuStatus.AVAILABLE}
    assert view.justifying(0, HEALTHY) == {b"1", b"2"}  # busy from 2, healthy from 1
    assert view.justifies(0, ALL_WELL) and view.justifies(0, HEALTHY)
    assert not view.justifies(2, ALL_WELL) and not view.justifies(3, 0)
    assert view.liveness() == Liveness(b"\xe0", b"\x60", b"\xc0")


def test_the_book_commits_concurrent_heartbeats_in_groups_and_reloads_them(
    tmp_path: Path, attestations: AttestationClient, make_account: Callable[..., LocalAccount]
) -> None:
    provider, agent = make_account(fund=False), make_account(fund=False)
    book = HeartbeatBook(tmp_path / "o.sqlite3")
    beats = [
        Accepted(_beat(attestations, provider, agent, [bytes([i]) * 32], 7), bytes([i]) * 32,
                 ((i, ALL_WELL if i % 2 else HEALTHY),))
        for i in range(200)
    ]  # fmt: skip

    async def send_all() -> None:
        await asyncio.gather(*(book.add(b) for b in beats))

    asyncio.run(send_all())
    assert book.batches < len(beats)  # grouped
    book.close()
    again = HeartbeatBook(tmp_path / "o.sqlite3")
    assert again.view(7).statuses() == {
        i: ALL_WELL if i % 2 else GpuStatus.HEALTHY for i in range(200)
    }
    assert len(again.bodies(7, [beats[3].digest])) == 1
    again.close()


# ---------------------------------------------------------------------- ingestion


def test_a_heartbeat_is_answered_once_committed_and_a_restarted_node_still_has_it(
    anvil: Anvil,
    home: Path,
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    nodes: list[OracleNode],
    apps: list[TestClient],
    world: dict[str, Any],
) -> None:
    g, epoch = world["g"], world["epoch"]
    beat = _beat(attestations, world["p"], world["a"], [m.gpu_key for m in g], epoch, [HEALTHY, 3])
    response = apps[0].post("/v1/heartbeats", json=beat.model_dump(mode="json"))
    assert response.status_code == 200, response.text
    indices = [_index(attestations, m) for m in g]
    assert response.json() == {"epoch": epoch, "indices": indices}
    nodes[0].close()  # as good as kill -9 here: nothing but the file survives
    restarted = _node(anvil, home, "o0", oracle_accounts[0], [])
    assert restarted.book.view(epoch).statuses() == {indices[0]: HEALTHY, indices[1]: ALL_WELL}


def test_heartbeat_refusals_keep_their_codes(
    w3: Web3,
    attestations: AttestationClient,
    registry: RegistryClient,
    nodes: list[OracleNode],
    apps: list[TestClient],
    world: dict[str, Any],
    make_account: Callable[..., LocalAccount],
) -> None:
    p, a, g, epoch = world["p"], world["a"], world["g"], world["epoch"]
    keys = [g[0].gpu_key]

    def post(beat: HeartbeatRequest) -> Any:
        return apps[0].post("/v1/heartbeats", json=beat.model_dump(mode="json"))

    _refused(post(_beat(attestations, p, a, keys, epoch - 1)), "stale_epoch")
    forged = _beat(attestations, p, a, keys, epoch, signer=make_account(fund=False))
    _refused(post(forged), "invalid_agent_signature")
    _refused(post(_beat(attestations, p, a, [world["h"][0].gpu_key], epoch)), "unknown_gpu", 404)
    registry.revoke_agent(p, a.address)
    nodes[0].facts.sync()
    _refused(post(_beat(attestations, p, a, keys, epoch)), "unauthorized_agent", 403)


# ---------------------------------------------------------------------- agreement


def test_a_peer_answers_with_the_heartbeats_the_leader_lacks(
    attestations: AttestationClient, apps: list[TestClient], world: dict[str, Any]
) -> None:
    g, epoch = world["g"], world["epoch"]
    beat = _beat(attestations, world["p"], world["a"], [g[0].gpu_key], epoch, [HEALTHY])
    assert apps[1].post("/v1/heartbeats", json=beat.model_dump(mode="json")).status_code == 200
    empty = LivenessView.of(Liveness()).model_dump(mode="json")
    answer = apps[1].post("/v1/liveness/evidence", json={"epoch": epoch, "view": empty}).json()
    assert [HeartbeatRequest.model_validate(h) for h in answer["heartbeats"]] == [
        beat.model_copy(update={"reasons": []})
    ]
    i = _index(attestations, g[0])
    assert LivenessView.model_validate(answer["view"]).liveness().statuses() == {i: HEALTHY}
    # a leader that already sees the same gets nothing more
    same = answer["view"]
    again = apps[1].post("/v1/liveness/evidence", json={"epoch": epoch, "view": same}).json()
    assert again["heartbeats"] == []


def test_a_record_justified_by_evidence_is_cosigned_and_the_evidence_kept(
    attestations: AttestationClient,
    nodes: list[OracleNode],
    apps: list[TestClient],
    world: dict[str, Any],
) -> None:
    g, epoch = world["g"], world["epoch"]
    beat = _beat(attestations, world["p"], world["a"], [g[0].gpu_key], epoch, [AVAILABLE])
    i = _index(attestations, g[0])
    liveness = Liveness.from_statuses({i: GpuStatus.AVAILABLE})
    body = {
        "configVersion": 1,
        "epoch": epoch,
        "liveness": LivenessView.of(liveness).model_dump(mode="json"),
        "evidence": [beat.model_dump(mode="json")],
    }
    response = apps[1].post("/v1/liveness/cosign", json=body)
    assert response.status_code == 200, response.text
    digest = attestations.liveness_digest(1, epoch, liveness)
    assert (
        recover(digest, bytes.fromhex(response.json()["signature"][2:])) == nodes[1].account.address
    )
    assert nodes[1].book.view(epoch).statuses() == {i: GpuStatus.AVAILABLE}
    # kept: the same record needs no evidence now
    assert apps[1].post("/v1/liveness/cosign", json={**body, "evidence": []}).status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "bad_agent_signature",
        "revoked_agent",
        "another_providers_gpu",
        "stale_epoch",
        "index_not_covered",
        "status_not_said",
        "wrong_config_version",
    ],
)
def test_evidence_a_peer_must_refuse(
    case: str,
    attestations: AttestationClient,
    registry: RegistryClient,
    nodes: list[OracleNode],
    apps: list[TestClient],
    world: dict[str, Any],
    make_account: Callable[..., LocalAccount],
) -> None:
    p, a, g, h, epoch = world["p"], world["a"], world["g"], world["h"], world["epoch"]
    i0, i1, j0 = (_index(attestations, m) for m in (g[0], g[1], h[0]))
    online: dict[int, GpuStatus] = {i0: ALL_WELL}
    beat = _beat(attestations, p, a, [g[0].gpu_key], epoch)
    version, code, status = 1, "unjustified_liveness", 409
    if case == "bad_agent_signature":
        beat = _beat(attestations, p, a, [g[0].gpu_key], epoch, signer=make_account(fund=False))
        code, status = "invalid_agent_signature", 422
    elif case == "revoked_agent":
        registry.revoke_agent(p, a.address)
        nodes[1].facts.sync()
        code, status = "unauthorized_agent", 403
    elif case == "another_providers_gpu":
        beat = _beat(attestations, p, a, [h[0].gpu_key], epoch)  # Q's GPU in P's heartbeat
        online = {j0: ALL_WELL}
    elif case == "stale_epoch":
        beat = _beat(attestations, p, a, [g[0].gpu_key], epoch - 1)
        code, status = "stale_epoch", 422
    elif case == "index_not_covered":
        online = {i0: ALL_WELL, i1: ALL_WELL}  # the heartbeat names g0 only
    elif case == "status_not_said":
        beat = _beat(attestations, p, a, [g[0].gpu_key], epoch, [HEALTHY])  # busy
    else:
        version, code, status = 9, "wrong_config_version", 409
    body = {
        "configVersion": version,
        "epoch": epoch,
        "liveness": LivenessView.of(Liveness.from_statuses(online)).model_dump(mode="json"),
        "evidence": [beat.model_dump(mode="json")],
    }
    _refused(apps[1].post("/v1/liveness/cosign", json=body), code, status)


# ---------------------------------------------------------------------- the leader


def test_heartbeats_that_each_reached_one_oracle_are_all_in_the_record(
    w3: Web3,
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    nodes: list[OracleNode],
    apps: list[TestClient],
    make_provider: Callable[..., LocalAccount],
    make_agent: Callable[..., LocalAccount],
) -> None:
    statuses = [ALL_WELL, HEALTHY, AVAILABLE]
    expected: dict[int, int] = {}
    epoch = settled_epoch(nodes[0])
    for oracle, status in enumerate(statuses):
        provider = make_provider()
        agent = make_agent(provider)
        (message,) = _attest(w3, attestations, oracle_accounts, provider, agent, 1, nodes)
        beat = _beat(attestations, provider, agent, [message.gpu_key], epoch, [status])
        response = apps[oracle].post("/v1/heartbeats", json=beat.model_dump(mode="json"))
        assert response.status_code == 200, response.text
        expected[_index(attestations, message)] = status

    nodes[0].transmitter._record_liveness(epoch)

    # The record's transaction is settled as the transmitter's loop would (a broadcast the
    # shared chain did not take at once is re-sent by reconcile).
    deadline = time.monotonic() + 20
    events = attestations.contract.events.LivenessRecorded().get_logs(from_block=0)
    while not events and time.monotonic() < deadline:
        nodes[0].transmitter.sender.reconcile()
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        time.sleep(0.2)
        events = attestations.contract.events.LivenessRecorded().get_logs(from_block=0)
    (event,) = events
    assert event["args"]["epoch"] == epoch
    recorded = Liveness(
        bytes(event["args"]["online"]),
        bytes(event["args"]["available"]),
        bytes(event["args"]["healthy"]),
    )
    assert recorded.statuses() == expected


def test_without_a_quorum_an_epoch_is_retried_then_given_up(
    w3: Web3,
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    nodes: list[OracleNode],
    apps: list[TestClient],
    world: dict[str, Any],
) -> None:
    leader = nodes[0]
    peers = leader.transmitter.http
    leader.transmitter.http = Peers({})  # type: ignore[assignment]  # both peers down
    epoch = world["epoch"]
    beat = _beat(attestations, world["p"], world["a"], [world["g"][0].gpu_key], epoch)
    assert apps[0].post("/v1/heartbeats", json=beat.model_dump(mode="json")).status_code == 200
    leader.transmitter._record_liveness(epoch)
    assert leader.store.liveness_state(epoch) is None  # to be retried
    assert attestations.last_liveness_epoch() == 0

    # Two epochs on, the retry window is over: the epoch is a gap, never retried again.
    real_epoch = leader.chain.epoch
    leader.chain.epoch = lambda: real_epoch() + 2  # type: ignore[method-assign]
    leader.transmitter.http = peers
    leader.transmitter.maybe_liveness()
    assert leader.store.liveness_state(epoch).value == "missed"  # type: ignore[union-attr]
