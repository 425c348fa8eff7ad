"""API tokens: made by a signed-in provider with scopes, shown once, stored as a hash, refused
by name when unknown, revoked or expired, and never usable on another provider's console."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import assert_problem, bearer, sign_in
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import ApiSettings, credentials
from depin.registry import RegistryClient, Status
from indexer.db import make_engine, migrate


def make_token(client: TestClient, session: str, *scopes: str, **extra: Any) -> dict[str, Any]:
    body = {"name": "script", "scopes": list(scopes), **extra}
    response = client.post("/v1/console/tokens", json=body, headers=bearer(session))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_token_is_shown_once_and_stored_as_its_hash(client: TestClient) -> None:
    account = Account.create()
    session = sign_in(client, account)
    created = make_token(client, session, "read", "relay")
    token = created["token"]
    assert token.startswith("depin_pat_") and len(token) >= 50
    assert created["scopes"] == ["read", "relay"] and created["active"]
    assert token.startswith(created["prefix"])
    listed = client.get("/v1/console/tokens", headers=bearer(session)).json()["items"]
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0]
    stored = client.app.state.shared  # type: ignore[attr-defined]
    with stored.transaction() as db:
        rows = db.execute("SELECT token_hash, prefix FROM api_tokens").fetchall()
    assert [tuple(r) for r in rows] == [
        (hashlib.sha256(token.encode()).hexdigest(), created["prefix"])
    ]
    me = client.get("/v1/console/whoami", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json() == {
        "provider": account.address,
        "kind": "token",
        "scopes": ["read", "relay"],
        "token_id": created["id"],
    }


def test_unknown_revoked_and_expired_tokens_get_401_by_name(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = sign_in(client, Account.create())
    unknown = client.get("/v1/console/whoami", headers=bearer("depin_pat_" + "A" * 43))
    assert_problem(unknown, 401, "unknown_token")
    revoked = make_token(client, session, "read")
    out = client.delete(f"/v1/console/tokens/{revoked['id']}", headers=bearer(session))
    assert out.status_code == 204, out.text
    body = assert_problem(
        client.get("/v1/console/whoami", headers=bearer(revoked["token"])), 401, "token_revoked"
    )
    assert revoked["id"] in body["detail"]
    listed = client.get("/v1/console/tokens", headers=bearer(session)).json()["items"]
    assert [(t["id"], t["active"]) for t in listed] == [(revoked["id"], False)]
    expiring = make_token(client, session, "read", expires_in=60)
    assert client.get("/v1/console/whoami", headers=bearer(expiring["token"])).status_code == 200
    later = credentials.now() + 61
    monkeypatch.setattr(credentials, "now", lambda: later)
    assert_problem(
        client.get("/v1/console/whoami", headers=bearer(expiring["token"])), 401, "token_expired"
    )


def test_a_token_cannot_manage_tokens_and_a_scope_it_lacks_is_403(client: TestClient) -> None:
    session = sign_in(client, Account.create())
    token = make_token(client, session, "read", "alerts:write", "relay")["token"]
    body = assert_problem(
        client.post(
            "/v1/console/tokens", json={"name": "x", "scopes": ["read"]}, headers=bearer(token)
        ),
        403,
        "insufficient_scope",
    )
    assert body["required_scope"] == "tokens" and "session" in body["detail"]
    relay_only = make_token(client, session, "relay")["token"]
    body = assert_problem(
        client.get("/v1/console/whoami", headers=bearer(relay_only)), 403, "insufficient_scope"
    )
    assert body["required_scope"] == "read"


def test_a_provider_has_at_most_so_many_live_tokens(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "MAX_TOKENS", 2)
    session = sign_in(client, Account.create())
    first = make_token(client, session, "read")
    make_token(client, session, "read")
    body = {"name": "third", "scopes": ["read"]}
    refused = client.post("/v1/console/tokens", json=body, headers=bearer(session))
    assert assert_problem(refused, 409, "token_limit")["limit"] == 2
    client.delete(f"/v1/console/tokens/{first['id']}", headers=bearer(session))
    make_token(client, session, "read")  # a revoked one no longer counts


def test_unknown_scopes_and_bad_expiries_are_refused(client: TestClient) -> None:
    session = sign_in(client, Account.create())
    for body in (
        {"name": "x", "scopes": ["admin"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["read"], "expires_in": 5},
        {"name": "", "scopes": ["read"]},
    ):
        response = client.post("/v1/console/tokens", json=body, headers=bearer(session))
        assert_problem(response, 422, "validation")


def test_one_provider_cannot_touch_anothers_tokens(client: TestClient) -> None:
    alice, bob = sign_in(client, Account.create()), sign_in(client, Account.create())
    token = make_token(client, alice, "read")
    assert client.get("/v1/console/tokens", headers=bearer(bob)).json()["items"] == []
    refused = client.delete(f"/v1/console/tokens/{token['id']}", headers=bearer(bob))
    assert_problem(refused, 403, "not_owner")
    assert client.get("/v1/console/whoami", headers=bearer(token["token"])).status_code == 200
    missing = client.delete("/v1/console/tokens/tok_0000000000000000", headers=bearer(alice))
    assert_problem(missing, 404, "not_found")


def test_the_console_relay_takes_a_relay_token_for_its_own_provider_only(
    client: TestClient, registry: RegistryClient, make_account: Callable[..., LocalAccount]
) -> None:
    provider, stranger = make_account(fund=False), make_account(fund=False)
    token = make_token(client, sign_in(client, provider), "relay")["token"]

    def signed(account: LocalAccount) -> dict[str, Any]:
        answer = client.post(
            "/v1/typed-data/registration",
            json={"provider": account.address, "name": "Acme GPU", "region": "eu-west"},
        )
        assert answer.status_code == 200, answer.text
        typed = answer.json()["typed_data"]
        signature = Account.sign_typed_data(account.key, full_message=typed).signature
        return {"typed_data": typed, "signature": "0x" + bytes(signature).hex()}

    refused = client.post("/v1/console/relay", json=signed(stranger), headers=bearer(token))
    body = assert_problem(refused, 403, "not_owner")
    assert stranger.address in body["detail"]
    relayed = client.post("/v1/console/relay", json=signed(provider), headers=bearer(token))
    assert relayed.status_code == 202, relayed.text
    registry.w3.eth.wait_for_transaction_receipt(relayed.json()["tx_hash"])
    assert registry.record(provider.address).status is Status.ACTIVE


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def test_hostile_console_bodies_are_refused_by_name_never_a_5xx(
    api_settings: ApiSettings, make_client: Callable[..., TestClient]
) -> None:
    migrate(make_engine(api_settings.url))  # an empty inventory: the routes answer, not 503
    client = make_client(alerts_allow_private_urls=True)
    session = bearer(sign_in(client, Account.create()))
    fields = {
        "/v1/console/tokens": ("name", "scopes", "expires_in"),
        "/v1/console/subscriptions": ("url", "events", "offline_epochs", "expiring_within_s"),
    }

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        path=st.sampled_from(sorted(fields)),
        data=st.data(),
    )
    def post(path: str, data: st.DataObject) -> None:
        body = data.draw(st.fixed_dictionaries({}, optional={f: JSON for f in fields[path]}) | JSON)
        response = client.post(path, json=body, headers=session)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"]

    post()
