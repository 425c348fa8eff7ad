"""Schemathesis against the OpenAPI document: no 5xx, and every answer matches its schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from eth_account import Account
from hypothesis import HealthCheck, settings
from inventory_world import build_world, index_world
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from web3 import Web3

from api import ApiSettings, create_app
from api.chain import ChainContext
from api.db import read_only_engine
from depin.chain import ANVIL_KEYS

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def app_schema(w3: Web3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    home: Path = tmp_path_factory.mktemp("schema")
    world = build_world(w3, home)
    url = f"sqlite:///{home / 'inventory.sqlite'}"
    index_world(world, url, home).dispose()
    chain = ChainContext(w3, world.registry, Account.from_key(ANVIL_KEYS[1]), int(w3.eth.chain_id))
    app = create_app(
        ApiSettings(
            rpc_url=w3.provider.endpoint_uri,  # type: ignore[attr-defined]
            home=home,
            database_url=url,
            registry_address=world.registry.address,
        ),
        chain=chain,
        engine=read_only_engine(url),
    )
    yield schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("app_schema")


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_openapi_conformance(case: schemathesis.Case) -> None:
    if case.path == "/v1/events":
        # The stream stays open by default; validate the backlog form (it ends).
        case.query = {**(case.query or {}), "follow": "false"}
    case.call_and_validate(checks=CHECKS)
