"""Explorer routes against databases filled by the real indexer from real chain events,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import assert_problem
from eth_account import Account
from fastapi.testclient import TestClient
from inventory_world import World, index_world
from sqlalchemy import create_engine

from api import ApiSettings, create_app
from api.chain import ChainContext
from api.db import read_only_engine
from depin.chain import ANVIL_KEYS


@pytest.fixture(scope="module")
def explorer(
    world: World, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("home")
    index_world(world, database_url, home).dispose()
    settings = ApiSettings(
        rpc_url=world.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        home=home,
        database_url=database_url,
        registry_address=world.registry.address,
        online_epochs=1,
    )
    chain = ChainContext(
        world.w3, world.registry, Account.from_key(ANVIL_KEYS[1]), int(world.w3.eth.chain_id)
    )
    app = create_app(settings, chain=chain, engine=read_only_engine(database_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def all_pages(client: TestClient, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor = None
    total = -1
    for _ in range(50):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/gpus", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["as_of_block"] > 0
        total = body["total"] if total < 0 else total
        assert body["total"] == total
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    return items, total


def keys(items: list[dict[str, Any]]) -> set[str]:
    return {i["gpu_key"] for i in items}


def expected(world: World, **where: Any) -> set[str]:
    out = set()
    for gpu in world.gpus:
        if where.get("vendor") and gpu["vendor"] != where["vendor"]:
            continue
        if where.get("model") and gpu["model"] != where["model"]:
            continue
        if where.get("region") and gpu["region"] != where["region"]:
            continue
        if where.get("provider") and gpu["provider"] != where["provider"]:
            continue
        if gpu["memory_bytes"] < where.get("min_memory", 0):
            continue
        if gpu["throughput_gops"] < where.get("min_throughput", 0):
            continue
        out.add(gpu["gpu_key"])
    return out


GIB = 1 << 30

FILTERS: list[dict[str, Any]] = [
    {},
    {"vendor": "nvidia"},
    {"vendor": "amd", "min_memory": 150 * GIB},
    {"model": "nvidia-l4"},
    {"min_throughput": 1_000_000},
    {"region": "eu-west"},
    {"vendor": "nvidia", "region": "us-east", "min_memory": 30 * GIB},
]


@pytest.mark.parametrize("where", FILTERS, ids=lambda w: ",".join(w) or "none")
def test_filters_match_the_chain(explorer: TestClient, world: World, where: dict[str, Any]) -> None:
    items, total = all_pages(explorer, {**where, "limit": 2})
    assert keys(items) == expected(world, **where)
    assert total == len(items)


def test_provider_online_and_verified_filters(explorer: TestClient, world: World) -> None:
    eu = world.providers["eu-west"].address
    items, _ = all_pages(explorer, {"provider": eu.lower()})
    assert keys(items) == expected(world, provider=eu)
    online, _ = all_pages(explorer, {"online": "true"})
    assert keys(online) == world.online_last
    assert all(i["online"] for i in online)
    online2, _ = all_pages(explorer, {"online": "true", "online_epochs": 2})
    assert keys(online2) == world.online_last | world.online_prev
    offline, _ = all_pages(explorer, {"online": "false"})
    assert keys(offline) == expected(world) - world.online_last
    verified, _ = all_pages(explorer, {"verified": "true"})
    assert keys(verified) == expected(world) - {world.retired}
    unverified, _ = all_pages(explorer, {"verified": "false"})
    assert keys(unverified) == {world.retired}
    typical, total = all_pages(
        explorer, {"vendor": "nvidia", "min_memory": 40 * GIB, "online": "true", "limit": 50}
    )
    assert (
        keys(typical) == expected(world, vendor="nvidia", min_memory=40 * GIB) & world.online_last
    )
    assert total == len(typical)


@pytest.mark.parametrize(
    "sort",
    [
        "-throughput",
        "throughput",
        "memory",
        "-memory",
        "gpu_key",
        "-gpu_key",
        "measured_at",
        "-measured_at",
    ],
)
def test_sorting_and_keyset_pages(explorer: TestClient, sort: str) -> None:
    items, total = all_pages(explorer, {"sort": sort, "limit": 3})
    assert total == len(items) == len(keys(items))
    field = {"throughput": "throughput_gops", "memory": "memory_bytes"}.get(
        sort.lstrip("-"), sort.lstrip("-")
    )
    pairs = [(i[field], i["gpu_key"]) for i in items]
    assert pairs == sorted(pairs, reverse=sort.startswith("-"))


def test_page_refusals(explorer: TestClient) -> None:
    assert_problem(explorer.get("/v1/gpus", params={"limit": 0}), 400, "invalid_filter")
    assert_problem(explorer.get("/v1/gpus", params={"limit": 10_000}), 400, "invalid_filter")
    assert_problem(explorer.get("/v1/gpus", params={"sort": "price"}), 400, "invalid_filter")
    assert_problem(explorer.get("/v1/gpus", params={"min_memory": -1}), 400, "invalid_filter")
    assert_problem(explorer.get("/v1/gpus", params={"online": "maybe"}), 400, "invalid_filter")
    assert_problem(explorer.get("/v1/gpus", params={"cursor": "!!"}), 400, "invalid_filter")
    page = explorer.get("/v1/gpus", params={"limit": 1, "sort": "memory"}).json()
    wrong = explorer.get("/v1/gpus", params={"cursor": page["next_cursor"], "sort": "-memory"})
    assert_problem(wrong, 400, "invalid_filter")


def test_one_gpu_and_its_attestations(explorer: TestClient, world: World) -> None:
    key = world.gpus[0]["gpu_key"]
    body = explorer.get(f"/v1/gpus/{key}").json()
    gpu = body["gpu"]
    assert gpu["throughput_gops"] == world.gpus[0]["throughput_gops"]
    assert gpu["region"] == "eu-west" and gpu["verified"] and gpu["online"]
    assert body["as_of_block"] > 0
    history = explorer.get(f"/v1/gpus/{key}/attestations").json()
    assert len(history["items"]) == 2
    newest, oldest = history["items"]
    assert newest["block_number"] > oldest["block_number"]
    assert newest["throughput_gops"] == 1_805_000 and oldest["throughput_gops"] == 1_800_000
    assert len(newest["signers"]) == 2 and newest["signers"] == sorted(
        newest["signers"], key=lambda a: int(a, 16)
    )
    assert newest["tx_hash"] == gpu["attestation_tx"]
    receipt = world.w3.eth.get_transaction_receipt(newest["tx_hash"])
    assert receipt["blockNumber"] == newest["block_number"]
    page = explorer.get(f"/v1/gpus/{key}/attestations", params={"limit": 1}).json()
    older = explorer.get(
        f"/v1/gpus/{key}/attestations",
        params={"limit": 1, "before_block": page["next_before_block"]},
    ).json()
    assert older["items"][0]["tx_hash"] == oldest["tx_hash"]
    missing = "0x" + "00" * 32
    assert_problem(explorer.get(f"/v1/gpus/{missing}"), 404, "not_found")
    assert_problem(explorer.get(f"/v1/gpus/{missing}/attestations"), 404, "not_found")
    assert_problem(explorer.get("/v1/gpus/0x1234"), 422, "validation")


def test_providers(explorer: TestClient, world: World) -> None:
    body = explorer.get("/v1/providers", params={"limit": 2}).json()
    assert body["total"] == 4 and len(body["items"]) == 2 and body["next_cursor"]
    rest = explorer.get("/v1/providers", params={"limit": 2, "cursor": body["next_cursor"]}).json()
    seen = {p["address"] for p in body["items"] + rest["items"]}
    assert seen == {*(p.address for p in world.providers.values()), world.deregistered}
    gone = explorer.get("/v1/providers", params={"status": "deregistered"}).json()
    assert [p["address"] for p in gone["items"]] == [world.deregistered]
    eu = explorer.get("/v1/providers", params={"region": "eu-west", "status": "active"}).json()
    assert [p["address"] for p in eu["items"]] == [world.providers["eu-west"].address]
    assert eu["items"][0]["gpu_count"] == 4

    address = world.providers["eu-west"].address
    detail = explorer.get(f"/v1/providers/{address.lower()}").json()
    provider = detail["provider"]
    assert provider["name"] == "eu-west compute" and provider["status"] == "active"
    assert [a["agent"] for a in provider["agents"]] == [world.agents["eu-west"].address]
    assert provider["agents"][0]["authorized"] and provider["agents"][0]["expires_at"] > 0
    assert len(provider["gpus"]) == 4
    # GPU indexes 0-3: epoch N-1 saw 0,1,2,3; epoch N saw 0,1,3.
    assert provider["uptime"] == {"epochs": 2, "ratio": 7 / 8}
    assert detail["as_of_block"] > 0
    unknown = Account.create().address
    assert_problem(explorer.get(f"/v1/providers/{unknown}"), 404, "not_found")
    assert_problem(explorer.get("/v1/providers", params={"status": "x"}), 400, "invalid_filter")


def test_stats(explorer: TestClient, world: World) -> None:
    body = explorer.get("/v1/stats").json()
    assert body["gpus"] == len(world.gpus)
    assert body["verified_gpus"] == len(world.gpus) - 1
    assert body["providers"] == 4 and body["active_providers"] == 3
    verified = [g for g in world.gpus if g["gpu_key"] != world.retired]
    assert body["verified_throughput"] == sum(g["throughput_gops"] for g in verified)
    online = [g for g in verified if g["gpu_key"] in world.online_last]
    assert body["online_gpus"] == len(online)
    assert body["online_throughput"] == sum(g["throughput_gops"] for g in online)
    by_vendor = {b["key"]: b for b in body["by_vendor"]}
    assert by_vendor["amd"]["gpus"] == sum(g["vendor"] == "amd" for g in world.gpus)
    by_region = {b["key"]: b for b in body["by_region"]}
    assert by_region["ap-south"]["verified_throughput"] == 1_810_000 + 2_400_000
    assert {b["key"] for b in body["by_model"]} == {g["model"] for g in world.gpus}


def test_capacity_history(explorer: TestClient, world: World) -> None:
    body = explorer.get("/v1/stats/history").json()
    keys = [g["gpu_key"] for g in world.gpus]
    gops = {g["gpu_key"]: g["throughput_gops"] for g in world.gpus}
    prev, last = body["points"]
    assert last["epoch"] == prev["epoch"] + 1
    assert last["block_number"] <= body["as_of_block"] and last["block_time"] > 0
    for point, seen in ((prev, world.online_prev), (last, world.online_last)):
        assert point["online_gpus"] == len(seen)
        # every GPU was verified when its liveness was recorded (the retirement came after)
        assert point["online_throughput"] == sum(gops[k] for k in keys if k in seen)
    (only,) = explorer.get("/v1/stats/history", params={"epochs": 1}).json()["points"]
    assert only == last
    for bad in ("0", "10001", "many"):
        response = explorer.get("/v1/stats/history", params={"epochs": bad})
        assert_problem(response, 400, "invalid_filter")


def test_health(explorer: TestClient, world: World) -> None:
    body = explorer.get("/v1/health").json()
    assert body["database"] is True and body["status"] == "ok"
    assert body["indexed_block"] == body["as_of_block"] <= body["chain_head"]
    assert body["lag"] == body["chain_head"] - body["indexed_block"]


def _events(client: TestClient, **kwargs: Any) -> list[dict[str, Any]]:
    import json

    response = client.get("/v1/events", params={"follow": "false"}, **kwargs)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    out = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            data = json.loads(fields["data"])
            assert int(fields["id"]) == data["id"] and fields["event"] == data["kind"]
            out.append(data)
    return out


def test_events_stream_and_resume(explorer: TestClient, world: World) -> None:
    events = _events(explorer)
    kinds = [e["kind"] for e in events]
    assert kinds.count("provider_registered") == 4
    assert kinds.count("gpu_attested") >= len(world.gpus)
    assert "provider_deregistered" in kinds and "gpu_online" in kinds
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    middle = events[len(events) // 2]["id"]
    resumed = _events(explorer, headers={"Last-Event-ID": str(middle)})
    assert [e["id"] for e in resumed] == [e["id"] for e in events if e["id"] > middle]
    assert all(e["as_of_block"] >= e["block_number"] for e in resumed)
    bad = explorer.get("/v1/events", headers={"Last-Event-ID": "x"})
    assert_problem(bad, 400, "invalid_filter")


def test_prestart_refuses_a_database_behind(tmp_path: Path) -> None:
    from api.prestart import check_database
    from depin.errors import ConfigurationError

    engine = create_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with pytest.raises(ConfigurationError, match="depin indexer migrate"):
        check_database(engine)
    app = create_app(ApiSettings(database_url=f"sqlite:///{tmp_path / 'empty.sqlite'}"))
    with pytest.raises(ConfigurationError, match="depin indexer migrate"), TestClient(app):
        pass
