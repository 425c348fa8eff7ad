"""The fuzz suite's services: the API and an oracle, in-process over real contracts on the
session's anvil, built once per module (hypothesis runs hundreds of bodies per route), and a
counter of the cases each route received."""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[2]))

from collections.abc import Iterator
from pathlib import Path

import pytest
from attest_helpers import deploy_test_oracle
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from fuzz_bodies import CASES
from web3 import Web3

from api import ApiSettings, create_app
from api.chain import ChainContext
from api.db import read_only_engine
from depin.chain import ANVIL_KEYS, Anvil
from depin.deploy import deploy_registry
from depin.registry import RegistryClient
from indexer.db import make_engine, migrate
from oracle.app import create_app as create_oracle_app
from oracle.node import OracleNode
from oracle.settings import OracleSettings


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CASES:
        terminalreporter.write_line(
            f"fuzz: {sum(CASES.values())} generated cases over {len(CASES)} routes"
        )
        for route, count in sorted(CASES.items()):
            terminalreporter.write_line(f"  {count:6d}  {route}")


def _funded(w3: Web3) -> LocalAccount:
    account: LocalAccount = Account.create()
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**19)])  # type: ignore[arg-type]
    return account


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def fuzz_registry(w3: Web3, fuzz_home: Path) -> RegistryClient:
    deployment = deploy_registry(w3, _funded(w3), fuzz_home / "deployments")
    return RegistryClient(w3, deployment.address)


@pytest.fixture(scope="module")
def api_client(w3: Web3, fuzz_home: Path, fuzz_registry: RegistryClient) -> Iterator[TestClient]:
    url = f"sqlite:///{fuzz_home / 'inventory.sqlite'}"
    engine = make_engine(url)
    migrate(engine)  # an empty, migrated inventory: explorer routes answer, not 503
    engine.dispose()
    settings = ApiSettings(
        rpc_url=w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        home=fuzz_home / "api",
        database_url=url,
        registry_address=fuzz_registry.address,
        ip_burst=10**9,
        address_burst=10**9,
    )
    chain = ChainContext(w3, fuzz_registry, Account.from_key(ANVIL_KEYS[1]), int(w3.eth.chain_id))
    app = create_app(settings, chain=chain, engine=read_only_engine(url), check_migrations=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def oracle_accounts_m(w3: Web3) -> list[LocalAccount]:
    return [_funded(w3) for _ in range(3)]


@pytest.fixture(scope="module")
def oracle_node(
    anvil: Anvil,
    w3: Web3,
    fuzz_home: Path,
    fuzz_registry: RegistryClient,
    oracle_accounts_m: list[LocalAccount],
) -> Iterator[OracleNode]:
    deploy_test_oracle(w3, _funded(w3), fuzz_home, fuzz_registry.address, oracle_accounts_m)
    settings = OracleSettings(
        rpc_url=anvil.rpc_url,
        home=fuzz_home,
        name="o0",
        proof_params="cpu",
        allow_simulated=True,
        rate_per_agent=0,  # the fuzz suite sends thousands of requests from one client
    )
    node = OracleNode(settings, oracle_accounts_m[0])
    yield node
    node.close()


@pytest.fixture(scope="module")
def oracle_client(oracle_node: OracleNode) -> Iterator[TestClient]:
    app = create_oracle_app(oracle_node, transmit=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
