"""The console's reads for the signed-in provider, over real chain events the real indexer
mirrored: its GPUs with their status, its agents with their expiry, its attestations with the
contract's rejections and their reasons, its relayed transactions with their outcomes; never
another provider's."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_helpers import assert_problem, bearer, sign_in, world_client
from attest_helpers import submit_by
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from inventory_world import World

from api.chain import ChainContext
from api.relay import follow
from depin.attestation import GpuAttestation, RejectReason, model_bytes
from depin.specs import PCI_VENDOR_IDS

pytestmark = pytest.mark.integration

WORLD_DOMAIN = "localhost:8000"  # the world's API keeps the default SIWE domain


def reject_two(world: World) -> list[tuple[str, str]]:
    """Submits a stale and an expired attestation of eu-west GPUs; the contract rejects both."""
    assert world.deployer is not None
    now = int(world.w3.eth.get_block("latest")["timestamp"])
    provider, agent = world.providers["eu-west"], world.agents["eu-west"]
    cases = [(world.gpus[1], now - 3600, now + 86400), (world.gpus[2], now - 10, now - 5)]
    entries = []
    for gpu, measured, expires in cases:
        entries.append(
            GpuAttestation(
                provider=provider.address,
                agent=agent.address,
                gpu_key=bytes.fromhex(gpu["gpu_key"][2:]),
                vendor_id=PCI_VENDOR_IDS[gpu["vendor"]],
                model=model_bytes(gpu["model"]),
                memory_bytes=gpu["memory_bytes"],
                fp32_gflops=1,
                fp16_gflops=1,
                memory_bandwidth_gbps=1,
                proven_int8_gops=gpu["throughput_gops"],
                challenge=secrets.token_bytes(32),
                measured_at=measured,
                expires_at=expires,
            )
        )
    receipt = submit_by(world.oracle, world.deployer, agent, entries, world.oracles[:2])
    rejected = world.oracle.rejections(receipt)
    assert [r for _, r in rejected] == [RejectReason.STALE_MEASUREMENT, RejectReason.EXPIRED]
    return [
        (case[0]["gpu_key"], name)
        for case, name in zip(cases, ("stale_measurement", "expired"), strict=True)
    ]


@pytest.fixture(scope="module")
def rejections(world: World) -> list[tuple[str, str]]:
    return reject_two(world)


@pytest.fixture(scope="module")
def console(
    world: World,
    rejections: list[tuple[str, str]],
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    with world_client(world, database_url, tmp_path_factory.mktemp("home")) as client:
        yield client


def reader(client: TestClient, account: LocalAccount) -> dict[str, str]:
    """A read-only API token of ``account``'s, as its Authorization header."""
    session = sign_in(client, account, domain=WORLD_DOMAIN)
    made = client.post(
        "/v1/console/tokens", json={"name": "ro", "scopes": ["read"]}, headers=bearer(session)
    )
    assert made.status_code == 201, made.text
    return bearer(made.json()["token"])


def get(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_fleet_is_the_providers_gpus_with_their_status(
    console: TestClient, world: World
) -> None:
    eu = world.providers["eu-west"]
    body = get(console, "/v1/console/gpus", reader(console, eu))
    mine = sorted(g["gpu_key"] for g in world.gpus if g["provider"] == eu.address)
    assert body["provider"] == eu.address and body["total"] == len(mine)
    assert [g["gpu_key"] for g in body["items"]] == mine
    for gpu in body["items"]:
        assert gpu["verified"] is True and gpu["expires_at"] > time.time()
        assert gpu["online"] == (gpu["gpu_key"] in world.online_last | world.online_prev)
        assert "uptime_24h" in gpu and "healthy" in gpu and "available" in gpu
    # the same list as the explorer's for this provider
    explorer = get(console, "/v1/gpus", {}, provider=eu.address, sort="gpu_key")
    assert [g["gpu_key"] for g in explorer["items"]] == mine
    page = get(console, "/v1/console/gpus", reader(console, eu), limit=2)
    assert len(page["items"]) == 2 and page["next_cursor"]


def test_agents_come_with_their_expiry(console: TestClient, world: World) -> None:
    us = world.providers["us-east"]
    body = get(console, "/v1/console/agents", reader(console, us))
    (agent,) = body["items"]
    assert agent["agent"] == world.agents["us-east"].address
    assert agent["authorized"] is True and agent["expires_in_s"] > 10**6


def test_attestations_include_rejections_with_their_reason(
    console: TestClient, world: World, rejections: list[tuple[str, str]]
) -> None:
    eu = world.providers["eu-west"]
    items = get(console, "/v1/console/attestations", reader(console, eu))["items"]
    rejected = [(i["gpu_key"], i["reason"]) for i in items if i["outcome"] == "rejected"]
    assert sorted(rejected) == sorted(rejections)
    accepted = [i for i in items if i["outcome"] == "accepted"]
    # four GPUs attested, the first twice
    assert len(accepted) == 5 and all(i["reason"] is None for i in accepted)
    blocks = [(i["block_number"], i["log_index"]) for i in items]
    assert blocks == sorted(blocks, reverse=True)
    # another provider sees none of them
    ap = get(console, "/v1/console/attestations", reader(console, world.providers["ap-south"]))
    assert {i["gpu_key"] for i in ap["items"]}.isdisjoint({k for k, _ in rejections})
    assert all(i["outcome"] == "accepted" for i in ap["items"])


def test_each_provider_reads_only_its_own_console(console: TestClient, world: World) -> None:
    for region, account in world.providers.items():
        gpus = get(console, "/v1/console/gpus", reader(console, account))["items"]
        assert {g["provider"] for g in gpus} == {account.address}, region
    stranger = Account.create()
    empty = get(console, "/v1/console/gpus", reader(console, stranger))
    assert empty["items"] == [] and empty["total"] == 0


def test_relayed_transactions_are_listed_with_their_outcome(
    client: TestClient, chain_ctx: ChainContext, make_account: Callable[..., LocalAccount]
) -> None:
    provider = make_account(fund=False)
    session = sign_in(client, provider)
    answer = client.post(
        "/v1/typed-data/registration",
        json={"provider": provider.address, "name": "Acme GPU", "region": "eu-west"},
    ).json()
    typed = answer["typed_data"]
    signature = (
        "0x" + bytes(Account.sign_typed_data(provider.key, full_message=typed).signature).hex()
    )
    relayed = client.post("/v1/relay", json={"typed_data": typed, "signature": signature})
    assert relayed.status_code == 202, relayed.text
    listed = get(client, "/v1/console/relayed", bearer(session))["items"]
    assert [(i["primary_type"], i["tx_hash"], i["outcome"]) for i in listed] == [
        ("Registration", relayed.json()["tx_hash"], "sent")
    ]
    assert listed[0]["digest"] == answer["digest"]
    chain_ctx.w3.eth.wait_for_transaction_receipt(relayed.json()["tx_hash"])
    follow(chain_ctx, client.app.state.relay_ledger, resend_after_s=60, max_fee=None)  # type: ignore[attr-defined]
    listed = get(client, "/v1/console/relayed", bearer(session))["items"]
    assert listed[0]["outcome"] == "mined"
    other = sign_in(client, Account.create())
    assert get(client, "/v1/console/relayed", bearer(other))["items"] == []
    assert_problem(client.get("/v1/console/relayed"), 401, "unauthorized")
