"""``/v1/search``: one box finds a GPU (by key or a prefix of one), a provider, an agent, a
transaction and a model (by name or a prefix), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import assert_problem
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inventory_world import FLEET, World

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(world_api: TestClient) -> TestClient:
    return world_api


def found(client: TestClient, q: str) -> list[dict[str, Any]]:
    response = client.get("/v1/search", params={"q": q})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == q and body["as_of_block"] > 0
    items: list[dict[str, Any]] = body["items"]
    return items


def test_a_gpu_key_finds_the_gpu_with_its_links(client: TestClient, world: World) -> None:
    gpu = world.gpus[0]
    (item,) = [i for i in found(client, gpu["gpu_key"]) if i["kind"] == "gpu"]
    assert item["key"] == gpu["gpu_key"]
    assert item["links"]["gpu"] == f"/v1/gpus/{gpu['gpu_key']}"
    assert client.get(item["links"]["gpu"]).status_code == 200
    assert client.get(item["links"]["provider"]).status_code == 200


def test_an_upper_case_gpu_key_finds_it_too(client: TestClient, world: World) -> None:
    key = world.gpus[1]["gpu_key"]
    assert [i["key"] for i in found(client, "0x" + key[2:].upper()) if i["kind"] == "gpu"] == [key]


def test_a_prefix_of_a_gpu_key_finds_the_gpus_it_starts(client: TestClient, world: World) -> None:
    key = world.gpus[2]["gpu_key"]
    items = [i for i in found(client, key[:8]) if i["kind"] == "gpu"]
    assert key in [i["key"] for i in items]
    assert all(i["key"].startswith(key[:8]) for i in items)


def test_a_provider_address_finds_the_provider(client: TestClient, world: World) -> None:
    provider = world.providers["eu-west"].address
    items = found(client, provider.lower())
    assert [(i["kind"], i["key"]) for i in items] == [("provider", provider)]
    assert items[0]["label"] == "eu-west compute"
    assert client.get(items[0]["links"]["gpus"]).json()["total"] == len(FLEET["eu-west"])


def test_an_agent_address_finds_the_agent_and_its_provider(
    client: TestClient, world: World
) -> None:
    agent = world.agents["us-east"].address
    items = found(client, agent)
    assert [(i["kind"], i["key"]) for i in items] == [("agent", agent)]
    provider = world.providers["us-east"].address
    assert items[0]["links"]["provider"] == f"/v1/providers/{provider}"


def test_a_transaction_hash_finds_the_transaction(client: TestClient, world: World) -> None:
    gpu = client.get(f"/v1/gpus/{world.gpus[3]['gpu_key']}").json()["gpu"]
    items = found(client, gpu["attestation_tx"])
    (item,) = [i for i in items if i["kind"] == "transaction"]
    assert "GpuAttested" in item["label"] or "Attest" in item["label"], item
    assert client.get(item["links"]["attestations"]).status_code == 200


def test_a_model_name_and_a_prefix_of_one_find_the_models(client: TestClient) -> None:
    items = found(client, "nvidia-h100-sxm5-80gb")
    assert [(i["kind"], i["key"]) for i in items] == [("model", "nvidia-h100-sxm5-80gb")]
    assert client.get(items[0]["links"]["gpus"]).json()["total"] == 3
    models = [i["key"] for i in found(client, "nvidia-") if i["kind"] == "model"]
    assert models == ["nvidia-a100-sxm4-40gb", "nvidia-h100-sxm5-80gb", "nvidia-l4"]


def test_a_query_that_names_nothing_finds_nothing(client: TestClient) -> None:
    assert found(client, "0x" + "ab" * 20) == []
    assert found(client, "0x" + "cd" * 32) == []
    assert found(client, "tpu-v5") == []


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "a"}, {"q": "x" * 129}, {"q": "nv\x00idia"}],
    ids=["none", "empty", "short", "long", "nul"],
)
def test_a_query_out_of_bounds_is_refused(client: TestClient, params: dict[str, str]) -> None:
    assert_problem(client.get("/v1/search", params=params), 400, "invalid_filter")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=st.text(max_size=140))
def test_no_query_is_answered_with_a_server_error(client: TestClient, q: str) -> None:
    response = client.get("/v1/search", params={"q": q})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["code"] == "invalid_filter"
