"""Renewing and revoking an agent key from the console: the typed data the console builds for
the signed-in provider's own agent keys only, signed like a wallet (an EOA, and an ERC-1271
contract wallet), relayed on a real anvil, and the new expiry or the revocation as the real
indexer then shows it in `GET /v1/console/agents`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import assert_problem, bearer, sign_in, siwe_message
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api import ApiSettings
from depin.registry import RegistryClient
from indexer.db import make_engine, migrate
from indexer.service import Indexer
from indexer.settings import IndexerSettings

pytestmark = pytest.mark.integration

DAY = 86400


@pytest.fixture
def indexer(api_settings: ApiSettings, registry: RegistryClient) -> Iterator[Indexer]:
    """The real indexer over this test's registry, into the database the API reads."""
    engine = make_engine(api_settings.database_url)
    migrate(engine)
    indexer = Indexer(
        IndexerSettings(
            rpc_url=registry.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
            home=api_settings.home,
            database_url=api_settings.database_url,
            finality=0,
        ),
        engine=engine,
    )
    indexer.prepare()
    indexer.sync()
    yield indexer
    engine.dispose()


def chain_now(registry: RegistryClient) -> int:
    return int(registry.w3.eth.get_block("latest")["timestamp"])


def wallet_sign(account: LocalAccount, typed: dict[str, Any]) -> str:
    """Signs like a wallet's eth_signTypedData_v4: the full JSON, as the route gave it."""
    return "0x" + bytes(Account.sign_typed_data(account.key, full_message=typed).signature).hex()


def agents(client: TestClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/console/agents", headers=headers)
    assert response.status_code == 200, response.text
    return {a["agent"]: a for a in response.json()["items"]}


def relay(
    client: TestClient, typed: dict[str, Any], signature: str, headers: dict[str, str] | None = None
) -> str:
    """Through the console's relay with a credential, else through the open `/v1/relay`."""
    path = "/v1/console/relay" if headers else "/v1/relay"
    response = client.post(
        path, json={"typed_data": typed, "signature": signature}, headers=headers
    )
    assert response.status_code == 202, response.text
    tx = str(response.json()["tx_hash"])
    assert client.app.state.chain.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1  # type: ignore[attr-defined]
    return tx


def test_only_the_owner_gets_typed_data_for_its_agent(
    indexer: Indexer,
    client: TestClient,
    registry: RegistryClient,
    make_provider: Callable[..., LocalAccount],
    make_account: Callable[..., LocalAccount],
) -> None:
    acme, boreal = make_provider(), make_provider()
    mine, theirs = make_account(fund=False), make_account(fund=False)
    now = chain_now(registry)
    registry.authorize_agent(acme, mine.address, now + 30 * DAY)
    registry.authorize_agent(boreal, theirs.address, now + 30 * DAY)
    indexer.sync()
    me = bearer(sign_in(client, acme))
    later = {"expires_at": now + 90 * DAY}

    for kind, body in (("renewal", later), ("revocation", {})):
        other = client.post(f"/v1/console/agents/{theirs.address}/{kind}", json=body, headers=me)
        assert "another provider's" in assert_problem(other, 403, "not_owner")["detail"]
        unknown = Account.create().address
        missing = client.post(f"/v1/console/agents/{unknown}/{kind}", json=body, headers=me)
        assert_problem(missing, 404, "unknown_agent")
        bad = client.post(f"/v1/console/agents/0x1234/{kind}", json=body, headers=me)
        assert_problem(bad, 422, "validation")
        anonymous = client.post(f"/v1/console/agents/{mine.address}/{kind}", json=body)
        assert_problem(anonymous, 401, "unauthorized")

    past = client.post(
        f"/v1/console/agents/{mine.address}/renewal", json={"expires_at": now - 1}, headers=me
    )
    assert assert_problem(past, 422, "invalid_expiry")["chain_time"] >= now
    for wrong in ({}, {"expires_at": 2**64}, {"expires_at": "soon"}, {"ttl": 5, **later}):
        refused = client.post(f"/v1/console/agents/{mine.address}/renewal", json=wrong, headers=me)
        assert_problem(refused, 422, "validation")

    for wrong in ([], {"ttl": "x"}, {"agent": mine.address}):
        refused = client.post(
            f"/v1/console/agents/{mine.address}/revocation", json=wrong, headers=me
        )
        assert_problem(refused, 422, "validation")
    furthest = client.post(
        f"/v1/console/agents/{mine.address}/renewal", json={"expires_at": 2**64 - 1}, headers=me
    )
    assert furthest.status_code == 200, furthest.text

    # the agent's address in any case; the message names the checksummed one
    answer = client.post(
        f"/v1/console/agents/{mine.address.lower()}/renewal", json=later, headers=me
    )
    assert answer.status_code == 200, answer.text
    typed = answer.json()["typed_data"]
    assert typed["primaryType"] == "AgentAuthorization"
    assert typed["message"]["provider"] == acme.address
    assert typed["message"]["agent"] == mine.address
    assert int(typed["message"]["expiresAt"]) == later["expires_at"]
    assert typed["domain"]["verifyingContract"] == registry.address
    revocation = client.post(f"/v1/console/agents/{mine.address}/revocation", headers=me)
    assert revocation.status_code == 200, revocation.text
    assert revocation.json()["typed_data"]["primaryType"] == "AgentRevocation"


def test_a_renewal_and_a_revocation_relayed_show_in_the_inventory(
    indexer: Indexer,
    client: TestClient,
    registry: RegistryClient,
    make_provider: Callable[..., LocalAccount],
    make_account: Callable[..., LocalAccount],
) -> None:
    acme = make_provider()
    first, second = make_account(fund=False), make_account(fund=False)
    now = chain_now(registry)
    registry.authorize_agent(acme, first.address, now + 10 * DAY)
    registry.authorize_agent(acme, second.address, now + 10 * DAY)
    indexer.sync()
    me = bearer(sign_in(client, acme))

    renewed_until = now + 365 * DAY
    answer = client.post(
        f"/v1/console/agents/{first.address}/renewal",
        json={"expires_at": renewed_until},
        headers=me,
    ).json()
    relay(client, answer["typed_data"], wallet_sign(acme, answer["typed_data"]), headers=me)
    indexer.sync()
    listed = agents(client, me)
    assert listed[first.address]["expires_at"] == renewed_until
    assert listed[first.address]["authorized"] is True
    assert listed[second.address]["expires_at"] == now + 10 * DAY
    assert registry.is_authorized_agent(acme.address, first.address)

    answer = client.post(f"/v1/console/agents/{second.address}/revocation", headers=me).json()
    signature = wallet_sign(acme, answer["typed_data"])
    relay(client, answer["typed_data"], signature, headers=me)
    indexer.sync()
    listed = agents(client, me)
    assert listed[second.address]["revoked"] is True
    assert listed[second.address]["authorized"] is False
    assert listed[first.address]["authorized"] is True
    assert not registry.is_authorized_agent(acme.address, second.address)

    # the same signature again: the relay's refusal, by name; revoking again: refused
    replay = client.post(
        "/v1/relay", json={"typed_data": answer["typed_data"], "signature": signature}
    )
    assert_problem(replay, 409, "nonce_used")
    again = client.post(f"/v1/console/agents/{second.address}/revocation", headers=me)
    assert_problem(again, 409, "agent_revoked")

    # a revoked agent key is renewed like any other: authorized again
    answer = client.post(
        f"/v1/console/agents/{second.address}/renewal",
        json={"expires_at": now + 30 * DAY},
        headers=me,
    ).json()
    relay(client, answer["typed_data"], wallet_sign(acme, answer["typed_data"]), headers=me)
    indexer.sync()
    assert agents(client, me)[second.address]["authorized"] is True


def test_a_contract_wallet_renews_its_agent(
    indexer: Indexer,
    client: TestClient,
    registry: RegistryClient,
    make_account: Callable[..., LocalAccount],
    make_contract_wallet: Callable[[LocalAccount], str],
) -> None:
    owner, agent = make_account(), make_account(fund=False)
    wallet = make_contract_wallet(owner)  # ERC-1271: the wallet accepts its owner's signatures
    for kind, body in (
        ("registration", {"name": "Safe GPU", "region": "eu-west"}),
        ("agent-authorization", {"agent": agent.address, "expires_at": int(time.time()) + DAY}),
    ):
        typed = client.post(f"/v1/typed-data/{kind}", json={"provider": wallet, **body})
        assert typed.status_code == 200, typed.text
        relay(client, typed.json()["typed_data"], wallet_sign(owner, typed.json()["typed_data"]))
    indexer.sync()

    nonce = client.get("/v1/auth/nonce").json()["nonce"]
    text = siwe_message(wallet, nonce)
    signed = Account.sign_message(encode_defunct(text=text), owner.key)
    verified = client.post(
        "/v1/auth/verify",
        json={"message": text, "signature": "0x" + bytes(signed.signature).hex()},
    )
    assert verified.status_code == 200, verified.text
    me = bearer(verified.json()["token"])

    until = chain_now(registry) + 90 * DAY
    answer = client.post(
        f"/v1/console/agents/{agent.address}/renewal", json={"expires_at": until}, headers=me
    ).json()
    stranger = make_account(fund=False)
    refused = client.post(
        "/v1/console/relay",
        json={
            "typed_data": answer["typed_data"],
            "signature": wallet_sign(stranger, answer["typed_data"]),
        },
        headers=me,
    )
    assert_problem(refused, 400, "invalid_signature")
    relay(client, answer["typed_data"], wallet_sign(owner, answer["typed_data"]), headers=me)
    indexer.sync()
    assert agents(client, me)[agent.address]["expires_at"] == until


def test_the_operations_are_documented(client: TestClient, tmp_path: Path) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    for kind, codes in (
        ("renewal", {"403", "404", "422"}),
        ("revocation", {"403", "404", "409"}),
    ):
        operation = paths[f"/v1/console/agents/{{agent}}/{kind}"]["post"]
        assert codes <= set(operation["responses"])
        ok = operation["responses"]["200"]["content"]["application/json"]
        assert "example" in ok or "$ref" in ok["schema"]
