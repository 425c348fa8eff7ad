"""Liveness as the API tells it: availability and health, uptime over a history with a missing
epoch, each GPU's epoch-by-epoch status, and "unknown" once liveness stops, on SQLite and
PostgreSQL. The tests run in order: the last one stops liveness."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import assert_problem
from eth_account import Account
from fastapi.testclient import TestClient
from liveness_world import UPTIME, LivenessWorld, build_liveness_world, index_liveness_world
from web3 import Web3

from api import ApiSettings, create_app
from api.chain import ChainContext
from api.db import read_only_engine
from depin.chain import ANVIL_KEYS
from depin.registry import RegistryClient


@pytest.fixture(scope="module")
def world(
    w3: Web3, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LivenessWorld]:
    """A world per database: the last test stops its liveness."""
    home = tmp_path_factory.mktemp("home")
    built = build_liveness_world(w3, home)
    index_liveness_world(built, database_url, home)
    yield built
    assert built.indexer is not None
    built.indexer.engine.dispose()


@pytest.fixture(scope="module")
def client(world: LivenessWorld, database_url: str) -> Iterator[TestClient]:
    registry = RegistryClient(world.w3, world.contracts["ProviderRegistry"]["address"])
    settings = ApiSettings(
        rpc_url=world.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        database_url=database_url,
        registry_address=registry.address,
        online_epochs=1,
    )
    chain = ChainContext(
        world.w3, registry, Account.from_key(ANVIL_KEYS[1]), int(world.w3.eth.chain_id)
    )
    app = create_app(settings, chain=chain, engine=read_only_engine(database_url))
    app.state.gpu_pages.snapshot_ttl = 0.0  # a test that indexes a block sees it at once
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def gpus(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/gpus", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def keys(body: dict[str, Any]) -> set[str]:
    return {g["gpu_key"] for g in body["items"]}


def test_the_fleet_is_online_available_and_healthy_as_last_recorded(
    client: TestClient, world: LivenessWorld
) -> None:
    body = gpus(client)
    assert body["liveness"]["fresh"] is True
    assert body["liveness"]["last_epoch"] == world.last
    assert 0 <= body["liveness"]["current_epoch"] - world.last <= 2
    by_key = {g["gpu_key"]: g for g in body["items"]}
    k = world.keys
    # the last epoch: 0 well, 1 free but unhealthy, 3 healthy but busy; 2 was last seen before
    assert [by_key[key]["online"] for key in k] == [True, True, False, True]
    assert [by_key[key]["available"] for key in k] == [True, True, False, False]
    assert [by_key[key]["healthy"] for key in k] == [True, False, None, True]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"available": "true"}, {0, 1}),
        ({"available": "false"}, {2, 3}),
        ({"healthy": "true"}, {0, 3}),
        ({"healthy": "false"}, {1}),
        ({"available": "true", "healthy": "true"}, {0}),
        ({"online": "true", "available": "false"}, {3}),
        ({"online": "false"}, {2}),
    ],
)
def test_available_and_healthy_filters(
    client: TestClient, world: LivenessWorld, params: dict[str, str], expected: set[int]
) -> None:
    body = gpus(client, **params)
    assert keys(body) == {world.keys[i] for i in expected}
    assert body["total"] == len(expected)
    small = gpus(client, **params, limit=1)  # the keyset pages agree
    assert small["total"] == len(expected)


def test_uptime_counts_recorded_epochs_since_the_first_attestation(
    client: TestClient, world: LivenessWorld
) -> None:
    by_key = {g["gpu_key"]: g for g in gpus(client)["items"]}
    for index, expected in UPTIME.items():
        gpu = by_key[world.keys[index]]
        assert gpu["uptime_24h"] == pytest.approx(expected), index
        assert gpu["uptime_7d"] == pytest.approx(expected), index
    one = client.get(f"/v1/gpus/{world.keys[2]}").json()
    assert one["gpu"]["uptime_24h"] == pytest.approx(UPTIME[2])
    assert one["liveness"]["fresh"] is True


def test_status_lists_each_epoch_newest_first_with_the_missing_one(
    client: TestClient, world: LivenessWorld
) -> None:
    body = client.get(f"/v1/gpus/{world.keys[1]}/status", params={"epochs": 10}).json()
    epochs = body["epochs"]
    assert len(epochs) == 10
    assert [e["epoch"] for e in epochs] == sorted((e["epoch"] for e in epochs), reverse=True)
    assert epochs[0]["epoch"] == body["liveness"]["current_epoch"]
    by_epoch = {e["epoch"]: e for e in epochs}

    def at(offset: int) -> tuple[Any, ...]:
        e = by_epoch[world.epoch(offset)]
        return e["recorded"], e["online"], e["available"], e["healthy"]

    assert at(0) == (True, True, True, False)
    assert at(-1) == (True, True, True, True)
    assert at(-2) == (True, False, False, None)
    assert at(-3) == (False, None, None, None)
    assert at(-4) == (True, True, True, True)
    assert by_epoch[world.epoch(-4)]["block_number"] > 0
    assert by_epoch[world.epoch(-3)]["block_number"] is None


def test_history_marks_the_missing_epoch(client: TestClient, world: LivenessWorld) -> None:
    body = client.get("/v1/stats/history", params={"epochs": 6}).json()
    points = body["points"]
    assert [p["epoch"] for p in points] == [world.epoch(o) for o in range(-5, 1)]
    assert [p["missing"] for p in points] == [False, False, True, False, False, False]
    gap = points[2]
    assert gap["online_gpus"] is None and gap["block_number"] is None
    assert [p["online_gpus"] for p in points if not p["missing"]] == [3, 2, 2, 3, 3]
    assert points[-1]["available_gpus"] == 2 and points[-1]["healthy_gpus"] == 2


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/gpus", {"available": "perhaps"}),
        ("/v1/gpus", {"healthy": "2"}),
        ("STATUS", {"epochs": 0}),
        ("STATUS", {"epochs": 2017}),
        ("STATUS", {"epochs": "x"}),
        ("STATUS", {"epochs": 10**30}),
        ("/v1/stats/history", {"epochs": -1}),
    ],
)
def test_liveness_parameters_are_bounded(
    client: TestClient, world: LivenessWorld, path: str, params: dict[str, Any]
) -> None:
    if path == "STATUS":
        path = f"/v1/gpus/{world.keys[0]}/status"
    assert_problem(client.get(path, params=params), 400, "invalid_filter")


def test_status_of_an_unknown_or_malformed_gpu(client: TestClient) -> None:
    assert_problem(client.get(f"/v1/gpus/0x{'00' * 32}/status"), 404, "not_found")
    assert_problem(client.get("/v1/gpus/0x12/status"), 422, "validation")


def test_health_is_ok_while_liveness_is_recent(client: TestClient) -> None:
    body = client.get("/v1/health").json()
    assert body["status"] == "ok", body
    assert body["liveness"]["fresh"] is True and body["reasons"] == []


def test_when_liveness_stops_online_is_unknown_and_health_degraded(
    client: TestClient, world: LivenessWorld
) -> None:
    world.stop_liveness(epochs=4)
    health = client.get("/v1/health").json()
    assert health["status"] == "degraded"
    assert health["liveness"]["fresh"] is False
    assert health["liveness"]["epochs_behind"] >= 3
    assert any("liveness lags" in r for r in health["reasons"]), health
    world.index()  # the indexer reaches the block with the later clock

    body = gpus(client)
    assert body["liveness"]["fresh"] is False
    assert body["liveness"]["current_epoch"] - body["liveness"]["last_epoch"] > 2
    assert len(body["items"]) == 4
    for gpu in body["items"]:
        assert gpu["online"] is None and gpu["available"] is None and gpu["healthy"] is None
        assert gpu["uptime_24h"] is not None  # history stays history
    for params in ({"online": "true"}, {"online": "false"}, {"available": "true"}):
        unknown = gpus(client, **params)
        assert unknown["items"] == [] and unknown["total"] == 0
        assert unknown["liveness"]["fresh"] is False
    stats = client.get("/v1/stats").json()
    assert stats["online_gpus"] is None and stats["online_throughput"] is None
    assert stats["online_memory"] is None and stats["liveness"]["fresh"] is False
    assert all(b["online_gpus"] is None for b in stats["by_vendor"])
    assert stats["verified_gpus"] == 4  # what does not depend on liveness is still told
    one = client.get(f"/v1/gpus/{world.keys[0]}").json()
    assert one["gpu"]["online"] is None and one["liveness"]["fresh"] is False
    status = client.get(f"/v1/gpus/{world.keys[0]}/status", params={"epochs": 3}).json()
    assert [e["recorded"] for e in status["epochs"]] == [False, False, False]
