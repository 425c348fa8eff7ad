"""Sign-In with Ethereum: a full sign-in, and each refusal with its problem type."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from api_helpers import SIWE_DOMAIN, assert_problem
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from httpx import Response

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
    uri: str | None = None,
    issued_ago: timedelta = timedelta(minutes=1),
    valid_in: timedelta | None = None,
) -> str:
    now = datetime.now(UTC)
    fields = {
        "domain": domain,
        "address": address,
        "statement": "Sign in to the depin explorer",
        "uri": uri or f"https://{domain}/login",
        "version": "1",
        "chain_id": chain_id,
        "nonce": nonce,
        "issued_at": _iso(now - issued_ago),
    }
    if expires_in is not None:
        fields["expiration_time"] = _iso(now + expires_in)
    if valid_in is not None:
        fields["not_before"] = _iso(now + valid_in)
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


def _verify(client: TestClient, account: LocalAccount, text: str) -> Response:
    return client.post("/v1/auth/verify", json={"message": text, "signature": sign(account, text)})


def test_a_uri_on_another_origin_is_refused(client: TestClient) -> None:
    account: LocalAccount = Account.create()
    for uri in (
        "https://evil.example/login",
        f"https://{SIWE_DOMAIN}:8443/login",
        f"ftp://{SIWE_DOMAIN}/login",
        f"https://evil.example/{SIWE_DOMAIN}",
    ):
        text = siwe_text(account.address, nonce(client), uri=uri)
        assert_problem(_verify(client, account, text), 400, "wrong_uri")
    # http and https on this domain are both the server when no public URL is configured
    text = siwe_text(account.address, nonce(client), uri=f"http://{SIWE_DOMAIN}/onboard")
    assert _verify(client, account, text).status_code == 200


def test_issued_at_ahead_of_the_clock_beyond_the_skew_is_refused(client: TestClient) -> None:
    account: LocalAccount = Account.create()
    text = siwe_text(account.address, nonce(client), issued_ago=-timedelta(days=1))
    assert_problem(_verify(client, account, text), 400, "issued_in_future")
    text = siwe_text(account.address, nonce(client), issued_ago=-timedelta(seconds=301))
    assert_problem(_verify(client, account, text), 400, "issued_in_future")
    # a device clock a little ahead is tolerated
    text = siwe_text(account.address, nonce(client), issued_ago=-timedelta(seconds=30))
    assert _verify(client, account, text).status_code == 200


def test_the_skew_is_configurable(make_client: Callable[..., TestClient]) -> None:
    strict = make_client(siwe_clock_skew_s=0)
    account: LocalAccount = Account.create()
    text = siwe_text(account.address, nonce(strict), issued_ago=-timedelta(seconds=30))
    assert_problem(_verify(strict, account, text), 400, "issued_in_future")


def test_not_before_in_the_future_is_refused(client: TestClient) -> None:
    account: LocalAccount = Account.create()
    text = siwe_text(account.address, nonce(client), valid_in=timedelta(minutes=5))
    assert_problem(_verify(client, account, text), 400, "not_yet_valid")
    text = siwe_text(account.address, nonce(client), valid_in=-timedelta(seconds=5))
    assert _verify(client, account, text).status_code == 200


def test_a_refused_message_leaves_its_nonce_usable(client: TestClient) -> None:
    account: LocalAccount = Account.create()
    issued = nonce(client)
    text = siwe_text(account.address, issued, valid_in=timedelta(minutes=5))
    assert_problem(_verify(client, account, text), 400, "not_yet_valid")
    assert _verify(client, account, siwe_text(account.address, issued)).status_code == 200


def test_the_public_url_sets_the_domain_and_origin(
    make_client: Callable[..., TestClient],
) -> None:
    public = make_client(public_url="http://127.0.0.1:9123")
    response = public.get("/v1/auth/nonce")
    assert response.json()["domain"] == "127.0.0.1:9123"
    account: LocalAccount = Account.create()

    def fresh(**kwargs: Any) -> str:
        value = str(public.get("/v1/auth/nonce").json()["nonce"])
        return siwe_text(account.address, value, domain="127.0.0.1:9123", **kwargs)

    # the old default domain, and the configured one with the wrong scheme, are refused
    stale = siwe_text(
        account.address, str(public.get("/v1/auth/nonce").json()["nonce"]), domain=SIWE_DOMAIN
    )
    assert_problem(_verify(public, account, stale), 400, "wrong_domain")
    wrong_scheme = fresh(uri="https://127.0.0.1:9123/onboard")
    assert_problem(_verify(public, account, wrong_scheme), 400, "wrong_uri")
    text = fresh(uri="http://127.0.0.1:9123/onboard")
    assert _verify(public, account, text).status_code == 200


def test_depin_up_sets_the_public_url_the_api_reads(monkeypatch: Any) -> None:
    import re
    from pathlib import Path

    from api.settings import ApiSettings

    up = (Path(__file__).parents[2] / "depin" / "_cli" / "up.py").read_text()
    assert re.search(r'"DEPIN_API_PUBLIC_URL": f"http://127\.0\.0\.1:\{api_port\}"', up)
    monkeypatch.setenv("DEPIN_API_PUBLIC_URL", "http://127.0.0.1:8123")
    settings = ApiSettings()
    assert settings.public_origin == "http://127.0.0.1:8123"
    assert settings.siwe_authority == "127.0.0.1:8123"


def test_public_url_must_be_an_origin() -> None:
    import pytest
    from pydantic import ValidationError

    from api.settings import ApiSettings

    assert ApiSettings(public_url="HTTPS://Explorer.Example/").public_origin == (
        "https://explorer.example"
    )
    assert ApiSettings(public_url="https://explorer.example").siwe_authority == "explorer.example"
    for bad in ("explorer.example", "ftp://explorer.example", "https://explorer.example/app"):
        with pytest.raises(ValidationError, match="DEPIN_API_PUBLIC_URL"):
            ApiSettings(public_url=bad)


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
