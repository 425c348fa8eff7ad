"""Fixtures of the API suites: an app wired to a fresh registry on the session's anvil."""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# tests/ is on sys.path (rootdir conftest) and tests/api would shadow the api package as a
# namespace package: put the project root first.
sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import SIWE_DOMAIN, postgres_database, world_client
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from inventory_world import World, build_world
from pydantic import SecretStr
from web3 import Web3

from api import ApiSettings, create_app
from api.chain import ChainContext
from api.db import read_only_engine
from depin import artifacts
from depin.chain import deploy
from depin.keys import create_keystore, load_keystore
from depin.registry import RegistryClient


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty inventory database for a module, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'inventory.sqlite'}"
    else:
        yield from postgres_database()


@pytest.fixture(scope="module")
def world(w3: Web3, tmp_path_factory: pytest.TempPathFactory) -> World:
    """The inventory world (:mod:`inventory_world`), built once for each module that asks."""
    return build_world(w3, tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def world_api(
    world: World, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The API over the indexed inventory world, for a module and each of its databases."""
    with world_client(world, database_url, tmp_path_factory.mktemp("home")) as client:
        yield client


@pytest.fixture
def relayer_keystore(tmp_path: Path, relayer: LocalAccount) -> Path:
    path = tmp_path / "relayer.json"
    create_keystore(path, "relayer-password", private_key=bytes(relayer.key))
    return path


@pytest.fixture
def api_settings(tmp_path: Path, registry: RegistryClient, relayer_keystore: Path) -> ApiSettings:
    return ApiSettings(
        rpc_url=registry.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'inventory.sqlite'}",
        registry_address=registry.address,
        siwe_domain=SIWE_DOMAIN,
        relayer_keystore=relayer_keystore,
        relayer_password=SecretStr("relayer-password"),
        ip_burst=1000,
        address_burst=1000,
    )


@pytest.fixture
def chain_ctx(api_settings: ApiSettings, registry: RegistryClient) -> ChainContext:
    # The relayer comes from its key store, as in production.
    assert api_settings.relayer_keystore is not None
    relayer = load_keystore(api_settings.relayer_keystore, "relayer-password")
    return ChainContext(registry.w3, registry, relayer, int(registry.w3.eth.chain_id))


@pytest.fixture
def make_client(
    api_settings: ApiSettings, chain_ctx: ChainContext
) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = api_settings.model_copy(update=overrides)
        app = create_app(
            settings,
            chain=chain_ctx,
            engine=read_only_engine(settings.url),
            check_migrations=False,
        )
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def make_contract_wallet(
    w3: Web3, make_account: Callable[..., LocalAccount]
) -> Callable[[LocalAccount], str]:
    """Deploys an ERC-1271 test wallet owned by ``owner``; returns its address."""

    def make(owner: LocalAccount) -> str:
        artifact = artifacts.load("TestContractWallet")
        receipt = deploy(w3, make_account(), artifact.abi, artifact.bytecode, owner.address)
        return str(receipt["contractAddress"])

    return make
