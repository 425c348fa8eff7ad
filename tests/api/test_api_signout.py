"""Sign-out: a session token keeps its expiry and can be revoked; a revoked one gets 401
``session_revoked`` on every worker sharing the state."""

from __future__ import annotations

from collections.abc import Callable

from api_helpers import assert_problem, bearer, sign_in
from eth_account import Account
from fastapi.testclient import TestClient

from api.auth import TokenSigner


def test_a_signed_out_token_is_refused_and_others_are_not(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    account = Account.create()
    token, other = sign_in(client, account), sign_in(client, account)
    assert client.get("/v1/auth/me", headers=bearer(token)).status_code == 200
    out = client.post("/v1/auth/logout", headers=bearer(token))
    assert out.status_code == 204, out.text
    body = assert_problem(client.get("/v1/auth/me", headers=bearer(token)), 401, "session_revoked")
    assert "signed out" in body["detail"]
    assert_problem(client.post("/v1/auth/logout", headers=bearer(token)), 401, "session_revoked")
    # the same address's other session is still valid
    assert client.get("/v1/auth/me", headers=bearer(other)).json()["address"] == account.address
    # a second worker on the same shared state refuses it too
    assert_problem(make_client().get("/v1/auth/me", headers=bearer(token)), 401, "session_revoked")


def test_logout_needs_a_session(client: TestClient) -> None:
    assert_problem(client.post("/v1/auth/logout"), 401, "unauthorized")
    forged = client.post("/v1/auth/logout", headers=bearer("v1.e30.forged"))
    assert_problem(forged, 401, "unauthorized")


def test_a_session_token_keeps_its_expiry() -> None:
    signer = TokenSigner(b"k" * 32, ttl=3600)
    token, session = signer.issue(Account.create().address, 31337)
    assert session.expires_at - session.issued_at == 3600
    checked = signer.verify(token)
    assert (checked.expires_at, checked.jti) == (session.expires_at, session.jti)
    expired, _ = TokenSigner(b"k" * 32, ttl=-1).issue(Account.create().address, 31337)
    try:
        signer.verify(expired)
    except Exception as exc:
        assert getattr(exc, "code", None) == "unauthorized"
        assert "expired" in str(exc)
    else:
        raise AssertionError("an expired session token was accepted")
