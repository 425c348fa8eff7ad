"""Health that cannot lie: the indexer's own record in `/v1/health`, and inventory reads refused
with the cause and the fix while the indexer is halted on a reorg deeper than its finality
window, until `depin indexer rebuild` makes the inventory the chain's again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_helpers import assert_problem
from click.testing import CliRunner
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from web3 import Web3

from api import ApiSettings
from api.indexer_health import IndexerWatch
from depin.attestation_client import AttestationClient
from depin.chain import Anvil
from depin.cli import main
from depin.registry import Profile, RegistryClient
from indexer.db import make_engine, migrate
from indexer.errors import DeepReorgError
from indexer.service import Indexer
from indexer.settings import IndexerSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def indexer(
    anvil: Anvil, api_settings: ApiSettings, attestations: AttestationClient
) -> Iterator[Indexer]:
    """The indexer of this test's contracts, writing the database the API reads, with a
    finality window of 3 blocks."""
    config = IndexerSettings(
        rpc_url=anvil.rpc_url,
        home=api_settings.home,
        database_url=api_settings.url,
        finality=3,
        retry_max_wait=0.2,
    )
    engine: Engine = make_engine(config.url)
    migrate(engine)
    indexer = Indexer(config, engine=engine)
    indexer.prepare()
    yield indexer
    engine.dispose()


@pytest.fixture
def api(make_client: Callable[..., TestClient], indexer: Indexer) -> TestClient:
    client = make_client()
    state: Any = client.app.state  # type: ignore[attr-defined]
    state.health_ttl = 0.0  # each answer computed afresh
    state.indexer_watch = IndexerWatch(state.engine, ttl=0.0)
    return client


def _register(registry: RegistryClient, account: LocalAccount) -> None:
    registry.register(account, Profile(name="acme", region="eu-west"))


@pytest.fixture
def provider(registry: RegistryClient, make_account: Callable[..., LocalAccount]) -> LocalAccount:
    """A funded account, registered as a provider."""
    account = make_account()
    _register(registry, account)
    return account


def _update(registry: RegistryClient, account: LocalAccount, region: str) -> None:
    registry.update_profile(account, Profile(name="renamed", region=region))


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    return w3.provider.make_request(method, params)["result"]  # type: ignore[arg-type]


def _inventory_paths(provider: str) -> list[str]:
    return [
        "/v1/gpus",
        f"/v1/gpus/0x{'11' * 32}",
        f"/v1/gpus/0x{'11' * 32}/status",
        f"/v1/gpus/0x{'11' * 32}/attestations",
        "/v1/providers",
        f"/v1/providers/{provider}",
        "/v1/stats",
        "/v1/stats/history",
        "/v1/events?follow=false",
    ]


def test_a_replaced_checkpoint_makes_health_degraded_while_reads_still_answer(
    api: TestClient,
    indexer: Indexer,
    w3: Web3,
    registry: RegistryClient,
    provider: LocalAccount,
) -> None:
    indexer.sync()
    body = api.get("/v1/health").json()
    assert body["status"] == "ok", body
    assert body["indexer"]["state"] == "ok" and body["indexer"]["canonical"] is True

    snapshot = _rpc(w3, "evm_snapshot", [])
    _update(registry, provider, "old")
    indexer.sync()
    assert _rpc(w3, "evm_revert", [snapshot]) is True
    _rpc(w3, "anvil_setBalance", [provider.address, hex(10**19)])
    for region in ("a", "b"):  # a shallow reorg the indexer has not rolled back yet
        _update(registry, provider, region)
    body = api.get("/v1/health").json()
    assert body["status"] == "degraded", body
    assert body["indexer"]["canonical"] is False and body["indexer"]["lag_at_least"] is True
    assert any("no longer on the node's chain" in reason for reason in body["reasons"]), body
    assert api.get("/v1/providers").status_code == 200  # within the window: rolled back soon

    indexer.sync()  # rolls back to the common ancestor and replays
    body = api.get("/v1/health").json()
    assert body["status"] == "ok", body
    page = api.get(f"/v1/providers/{provider.address}").json()
    assert page["provider"]["region"] == "b"


def test_a_deep_reorg_halts_health_and_every_inventory_read_until_a_rebuild(
    api: TestClient,
    indexer: Indexer,
    anvil: Anvil,
    w3: Web3,
    registry: RegistryClient,
    provider: LocalAccount,
) -> None:
    snapshot = _rpc(w3, "evm_snapshot", [])
    for _ in range(6):
        _update(registry, provider, "on-the-old-branch")
    indexer.sync()
    assert api.get(f"/v1/providers/{provider.address}").json()["provider"]["region"] == (
        "on-the-old-branch"
    )
    assert _rpc(w3, "evm_revert", [snapshot]) is True
    _rpc(w3, "anvil_setBalance", [provider.address, hex(10**19)])
    for _ in range(12):
        _update(registry, provider, "on-the-new-branch")
    with pytest.raises(DeepReorgError) as caught:
        indexer.sync()
    error = caught.value

    health = api.get("/v1/health").json()
    assert health["status"] == "halted", health
    assert health["indexer"]["state"] == "halted"
    assert health["indexer"]["halt_reason"] == "deep_reorg"
    assert "depin indexer rebuild" in health["indexer"]["fix"]
    assert any("halted (deep_reorg)" in reason for reason in health["reasons"]), health
    # the lag is counted from the first replaced block, not from a checkpoint the chain lost
    assert health["lag"] >= health["chain_head"] - error.from_block + 1
    assert health["indexer"]["lag_at_least"] is True

    for path in _inventory_paths(provider.address):
        response = api.get(path)
        problem = assert_problem(response, 503, "indexer_halted")
        assert response.headers["retry-after"] == "30", path
        assert "deep_reorg" in problem["detail"] and "depin indexer rebuild" in problem["detail"]
        assert problem["reason"] == "deep_reorg"
        assert "depin indexer rebuild" in problem["fix"]
    # what is not the inventory still answers
    assert api.get("/v1/health").status_code == 200
    assert api.get("/openapi.json").status_code == 200

    settings = indexer.settings
    base = ["indexer", "--database-url", settings.url, "--rpc-url", anvil.rpc_url]
    result = CliRunner().invoke(
        main, [*base, "--home", str(settings.home), "rebuild", "--no-progress"]
    )
    assert result.exit_code == 0, result.output

    health = api.get("/v1/health").json()
    assert health["status"] == "ok", health
    assert health["indexer"]["halt_reason"] is None and health["lag"] == 0
    for path in _inventory_paths(provider.address):
        response = api.get(path)
        assert response.status_code in (200, 404), (path, response.text)
    page = api.get(f"/v1/providers/{provider.address}").json()
    assert page["provider"]["region"] == "on-the-new-branch"  # the chain's, not the old branch
    providers = api.get("/v1/providers").json()
    assert [p["address"] for p in providers["items"]] == [provider.address]
    assert providers["as_of_block"] == health["indexed_block"]


def test_the_halt_check_reads_the_database_at_most_once_a_ttl(
    api: TestClient, indexer: Indexer, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexer.sync()
    state: Any = api.app.state  # type: ignore[attr-defined]
    watch = IndexerWatch(state.engine, ttl=60.0)
    state.indexer_watch = watch
    reads = 0
    read = watch.read

    def counted() -> Any:
        nonlocal reads
        reads += 1
        return read()

    monkeypatch.setattr(watch, "read", counted)
    for _ in range(20):
        assert api.get("/v1/gpus").status_code == 200
    assert reads == 1
