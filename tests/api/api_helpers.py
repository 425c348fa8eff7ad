"""Helpers of the API suites (imported by the test modules)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SIWE_DOMAIN = "explorer.test"
POSTGRES_URL = os.environ.get(
    "DEPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for a module (dropped after), or a skip without a server."""
    admin_url = make_url(POSTGRES_URL)
    name = f"api_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["type"] == "urn:depin:problem:" + code.replace("_", "-")
    assert body["status"] == status
    return body


@contextmanager
def world_client(world: Any, url: str, home: Path) -> Iterator[TestClient]:
    """The API over ``world`` indexed into the database at ``url``: a client of its app."""
    from eth_account import Account
    from inventory_world import index_world

    from api import ApiSettings, create_app
    from api.chain import ChainContext
    from api.db import read_only_engine
    from depin.chain import ANVIL_KEYS

    index_world(world, url, home).dispose()
    settings = ApiSettings(
        rpc_url=world.w3.provider.endpoint_uri,
        home=home,
        database_url=url,
        registry_address=world.registry.address,
    )
    chain = ChainContext(
        world.w3, world.registry, Account.from_key(ANVIL_KEYS[1]), int(world.w3.eth.chain_id)
    )
    app = create_app(settings, chain=chain, engine=read_only_engine(url))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def siwe_message(
    address: str, nonce: str, *, domain: str = SIWE_DOMAIN, chain_id: int = 31337
) -> str:
    """An EIP-4361 message for this API's test domain, issued a minute ago, valid 5 minutes."""
    import warnings
    from datetime import UTC, datetime, timedelta

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import siwe

    now = datetime.now(UTC)
    return str(
        siwe.SiweMessage(
            domain=domain,
            address=address,
            statement="Sign in to the depin console",
            uri=f"https://{domain}/console",
            version="1",
            chain_id=chain_id,
            nonce=nonce,
            issued_at=(now - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
            expiration_time=(now + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        ).prepare_message()
    )


def sign_in(client: TestClient, account: Any, *, domain: str = SIWE_DOMAIN) -> str:
    """Signs ``account`` (an eth-account key) in with SIWE; returns its session token."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    nonce = client.get("/v1/auth/nonce")
    assert nonce.status_code == 200, nonce.text
    text = siwe_message(account.address, nonce.json()["nonce"], domain=domain)
    signature = (
        "0x" + bytes(Account.sign_message(encode_defunct(text=text), account.key).signature).hex()
    )
    response = client.post("/v1/auth/verify", json={"message": text, "signature": signature})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
