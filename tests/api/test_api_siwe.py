"""Sign-In with Ethereum: a full sign-in, and each refusal with its problem type."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from api_helpers import SIWE_DOMAIN, assert_problem
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import siwe


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def siwe_text(
    address: str,
    nonce: str,
    *,
    domain: str = SIWE_DOMAIN,
    chain_id: int = 31337,
    expires_in: timedelta | None = timedelta(minutes=5),
) -> str:
    now = datetime.now(UTC)
    fields = {
        "domain": domain,
        "address": address,
        "statement": "Sign in to the depin explorer",
        "uri": f"https://{domain}/login",
        "version": "1",
        "chain_id": chain_id,
        "nonce": nonce,
        "issued_at": _iso(now - timedelta(minutes=1)),
    }
    if expires_in is not None:
        fields["expiration_time"] = _iso(now + expires_in)
    return str(siwe.SiweMessage(**fields).prepare_message())


def sign(account: LocalAccount, text: str) -> str:
    signed = Account.sign_message(encode_defunct(text=text), account.key)
    return "0x" + bytes(signed.signature).hex()


def nonce(client: TestClient) -> str:
    response = client.get("/v1/auth/nonce")
    assert response.status_code == 200, response.text
    assert response.json()["domain"] == SIWE_DOMAIN
    return str(response.json()["nonce"])


def test_full_sign_in_with_an_eoa(client: TestClient) -> None:
    account: LocalAccount = Account.create()
    text = siwe_text(account.address, nonce(client))
    response = client.post(
        "/v1/auth/verify", json={"message": text, "signature": sign(account, text)}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["address"] == account.address
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["address"] == account.address


def test_sign_in_with_an_erc1271_wallet(
    client: TestClient,
    make_account: Callable[..., LocalAccount],
    make_contract_wallet: Callable[[LocalAccount], str],
) -> None:
    owner = make_account()
    wallet = make_contract_wallet(owner)
    text = siwe_text(wallet, nonce(client))
    response = client.post(
        "/v1/auth/verify", json={"message": text, "signature": sign(owner, text)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["address"] == wallet


def test_wrong_domain_is_refused(client: TestClient) -> None:
    account: LocalAccount = Account.create()
    text = siwe_text(account.address, nonce(client), domain="evil.example")
    response = client.post(
        "/v1/auth/verify", json={"message": text, "signature": sign(account, text)}
    )
    assert_problem(response, 400, "wrong_domain")


def test_expired_message_is_refused(client: TestClient) -> None:
    account: LocalAccount = Account.create()
    text = siwe_text(account.address, nonce(client), expires_in=timedelta(seconds=-10))
    response = client.post(
        "/v1/auth/verify", json={"message": text, "signature": sign(account, text)}
    )
    assert_problem(response, 400, "expired_message")


def test_reused_nonce_is_refused(client: TestClient) -> None:
    account: LocalAccount = Account.create()
    text = siwe_text(account.address, nonce(client))
    body = {"message": text, "signature": sign(account, text)}
    assert client.post("/v1/auth/verify", json=body).status_code == 200
    assert_problem(client.post("/v1/auth/verify", json=body), 409, "nonce_used")


def test_unissued_nonce_and_other_refusals(client: TestClient) -> None:
    account: LocalAccount = Account.create()
    other: LocalAccount = Account.create()
    text = siwe_text(account.address, "notissuedbyserver1")
    response = client.post(
        "/v1/auth/verify", json={"message": text, "signature": sign(account, text)}
    )
    assert_problem(response, 400, "invalid_nonce")
    text = siwe_text(account.address, nonce(client))
    response = client.post(
        "/v1/auth/verify", json={"message": text, "signature": sign(other, text)}
    )
    assert_problem(response, 400, "invalid_signature")
    text = siwe_text(account.address, nonce(client), chain_id=1)
    response = client.post(
        "/v1/auth/verify", json={"message": text, "signature": sign(account, text)}
    )
    assert_problem(response, 400, "wrong_chain")
    response = client.post("/v1/auth/verify", json={"message": "hello", "signature": "0x00"})
    assert_problem(response, 422, "validation")


def test_session_tokens_are_checked(client: TestClient) -> None:
    assert_problem(client.get("/v1/auth/me"), 401, "unauthorized")
    bad = client.get("/v1/auth/me", headers={"Authorization": "Bearer v1.e30.forged"})
    assert_problem(bad, 401, "unauthorized")


def test_placeholder_secret_refused_off_dev_chains() -> None:
    import pytest

    from api.settings import ApiSettings
    from depin.errors import ConfigurationError

    settings = ApiSettings()
    settings.check_secret(31337)
    with pytest.raises(ConfigurationError, match="DEPIN_API_SESSION_SECRET"):
        settings.check_secret(10)
    ApiSettings(session_secret="x" * 32).check_secret(10)  # type: ignore[arg-type]
