"""Fixtures of the indexer suites: one database per test on SQLite and on PostgreSQL, a fresh
registry + attestation oracle per test, and a scenario driver that makes contract events."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eth_account.signers.local import LocalAccount
from indexer_helpers import Scenario
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from web3 import Web3

from depin.attestation_client import AttestationClient
from depin.chain import Anvil
from depin.registry import RegistryClient
from indexer.db import make_engine, migrate
from indexer.service import Indexer
from indexer.settings import IndexerSettings

POSTGRES_URL = os.environ.get(
    "DEPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _admin_url() -> str:
    return (
        make_url(POSTGRES_URL)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )


@pytest.fixture
def make_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes empty databases of the test's backend (``backend`` param): SQLite files, or
    PostgreSQL databases created for the test and dropped after it."""
    backend = getattr(request, "param", "sqlite")
    created: list[str] = []

    def make(label: str = "main") -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'{label}.sqlite'}"
        name = f"depin_test_{secrets.token_hex(6)}"
        with psycopg.connect(_admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    for name in created:
        with psycopg.connect(_admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def oracles(oracle_accounts: list[LocalAccount]) -> list[LocalAccount]:
    return oracle_accounts


@pytest.fixture
def scenario(
    w3: Web3,
    registry: RegistryClient,
    attestations: AttestationClient,
    oracles: list[LocalAccount],
    make_account: Callable[..., LocalAccount],
) -> Scenario:
    return Scenario(w3, registry, attestations, oracles, make_account)


@pytest.fixture
def make_indexer(
    anvil: Anvil, home: Path, make_db_url: Callable[[str], str]
) -> Iterator[Callable[..., Indexer]]:
    """An indexer of this test's contracts into a new database (``label`` names it)."""
    engines: list[Engine] = []

    def make(label: str = "main", url: str | None = None, **settings: Any) -> Indexer:
        fields: dict[str, Any] = {
            "rpc_url": anvil.rpc_url,
            "home": home,
            "database_url": url or make_db_url(label),
            "finality": 64,
            "retry_max_wait": 0.2,
        }
        fields.update(settings)
        config = IndexerSettings(**fields)
        engine = make_engine(config.url)
        engines.append(engine)
        migrate(engine)
        indexer = Indexer(config, engine=engine)
        indexer.prepare()
        return indexer

    yield make
    for engine in engines:
        engine.dispose()
