"""What the typed-data routes and the relay accept, and each refusal with its code and field:
malformed fields never reach the encoder, integers come as wallets send them, unknown fields and
disagreeing forms are refused, and a wrong domain says which field differs."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import assert_problem
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.schemas.onboarding import TYPED_DATA_EXAMPLE
from depin.registry import RegistryClient


def _typed(client: TestClient, kind: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/v1/typed-data/{kind}", json=body)
    assert response.status_code == 200, response.text
    typed: dict[str, Any] = response.json()["typed_data"]
    return typed


def _sign(account: LocalAccount, typed: dict[str, Any]) -> str:
    return "0x" + bytes(Account.sign_typed_data(account.key, full_message=typed).signature).hex()


@pytest.fixture
def provider(make_account: Callable[..., LocalAccount]) -> LocalAccount:
    return make_account(fund=False)


@pytest.fixture
def registration(client: TestClient, provider: LocalAccount) -> dict[str, Any]:
    return _typed(client, "registration", provider=provider.address, name="Acme GPU")


def _relay(client: TestClient, typed: dict[str, Any], signature: str = "0x" + "11" * 65) -> Any:
    return client.post("/v1/relay", json={"typed_data": typed, "signature": signature})


def _with(typed: dict[str, Any], where: str, **values: Any) -> dict[str, Any]:
    changed = copy.deepcopy(typed)
    changed[where].update(values)
    return changed


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("metadataHash", "0x12", "expected bytes32: 32 bytes, got 1"),
        ("metadataHash", "0x" + "00" * 33, "expected bytes32: 32 bytes, got 33"),
        ("metadataHash", "0xzz", "expected 0x-prefixed hex"),
        ("nonce", 2**256, "out of range for uint256"),
        ("nonce", str(2**256), "out of range for uint256"),
        ("nonce", -1, "out of range for uint256"),
        ("nonce", 1.5, "got a float"),
        ("nonce", True, "got a boolean"),
        ("nonce", "many", "as a decimal or 0x-hex string"),
        ("deadline", None, "got a NoneType"),
        ("name", 7, "expected a string"),
        ("provider", "0x1234", "message.provider"),
    ],
)
def test_a_malformed_message_field_is_refused_naming_it(
    client: TestClient, registration: dict[str, Any], field: str, value: Any, says: str
) -> None:
    refused = _relay(client, _with(registration, "message", **{field: value}))
    body = assert_problem(refused, 422, "validation")
    assert f"message.{field}" in body["detail"] and says in body["detail"], body


def test_a_number_beyond_any_float_is_refused_not_a_server_error(
    client: TestClient, registration: dict[str, Any]
) -> None:
    text = json.dumps({"typed_data": registration, "signature": "0x" + "11" * 65})
    text = text.replace('"nonce": 0', '"nonce": 1e400')
    refused = client.post("/v1/relay", content=text, headers={"content-type": "application/json"})
    body = assert_problem(refused, 422, "validation")
    assert "message.nonce" in body["detail"]


def test_integers_as_wallets_send_them_are_accepted(
    client: TestClient, registry: RegistryClient, provider: LocalAccount
) -> None:
    typed = _typed(client, "registration", provider=provider.address, name="Hex GPU")
    signature = _sign(provider, typed)
    hexed = _with(typed, "message", nonce="0x0", deadline=hex(typed["message"]["deadline"]))
    hexed["domain"]["chainId"] = hex(typed["domain"]["chainId"])
    answer = _relay(client, hexed, signature)
    assert answer.status_code == 202, answer.text
    assert answer.json()["nonce"] == 0
    receipt = registry.w3.eth.wait_for_transaction_receipt(answer.json()["tx_hash"])
    assert receipt["status"] == 1


@pytest.mark.parametrize(
    ("where", "body"),
    [
        ("body", {"extra": 1}),
        ("typed_data", {"typed_data": {"extra": 1}}),
        ("domain", {"typed_data": {"domain": {"salt": "0x" + "00" * 32}}}),
        ("message", {"typed_data": {"message": {"extra": 1}}}),
        ("bare message", {"message": {"extra": 1}}),
    ],
)
def test_unknown_fields_are_refused_naming_them(
    client: TestClient, registration: dict[str, Any], where: str, body: dict[str, Any]
) -> None:
    request: dict[str, Any] = {"typed_data": copy.deepcopy(registration)}
    request["signature"] = "0x" + "11" * 65
    if where == "bare message":
        request = {
            "primary_type": "Registration",
            "message": {**registration["message"], "extra": 1},
            "signature": "0x" + "11" * 65,
        }
    elif where == "body":
        request["extra"] = 1
    elif where == "typed_data":
        request["typed_data"]["extra"] = 1
    else:
        request["typed_data"][where].update(body["typed_data"][where])
    refused = assert_problem(client.post("/v1/relay", json=request), 422, "validation")
    named = "salt" if where == "domain" else "extra"
    assert named in refused["detail"], refused


@pytest.mark.parametrize(
    ("kind", "body", "named"),
    [
        ("registration", {"name": "x", "nmae": "typo"}, "nmae"),
        ("agent-revocation", {"agent": "0x" + "34" * 20, "ttl": 1.5}, "ttl"),
        ("agent-revocation", {"agent": "0x" + "34" * 20, "ttl": True}, "ttl"),
        ("agent-revocation", {"agent": "0x" + "34" * 20, "ttl": 59}, "60 <= n <= 604800"),
        ("agent-authorization", {"agent": "0x" + "34" * 20, "expires_at": 2**64}, "expires_at"),
        ("agent-authorization", {"agent": "0x" + "34" * 20, "expires_at": 1e400}, "expires_at"),
    ],
)
def test_typed_data_requests_refuse_what_they_do_not_declare(
    client: TestClient, provider: LocalAccount, kind: str, body: dict[str, Any], named: str
) -> None:
    text = json.dumps({"provider": provider.address, **body}).replace("Infinity", "1e400")
    refused = client.post(
        f"/v1/typed-data/{kind}", content=text, headers={"content-type": "application/json"}
    )
    problem = assert_problem(refused, 422, "validation")
    assert named in json.dumps(problem), problem


def test_typed_data_requests_take_hex_and_decimal_strings(
    client: TestClient, provider: LocalAccount
) -> None:
    expires = int(time.time()) + 86400
    answer = client.post(
        "/v1/typed-data/agent-authorization",
        json={"provider": provider.address, "agent": "0x" + "34" * 20, "expires_at": hex(expires),
              "ttl": "3600"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["typed_data"]["message"]["expiresAt"] == expires


def test_both_forms_are_refused_unless_they_agree(
    client: TestClient, registry: RegistryClient, provider: LocalAccount
) -> None:
    typed = _typed(client, "registration", provider=provider.address, name="Both")
    signature = _sign(provider, typed)
    other = {**typed["message"], "name": "Other"}
    for primary, message, field in (
        ("Registration", other, "message"),
        ("ProfileUpdate", typed["message"], "primary_type"),
    ):
        refused = client.post(
            "/v1/relay",
            json={
                "typed_data": typed,
                "primary_type": primary,
                "message": message,
                "signature": signature,
            },
        )
        body = assert_problem(refused, 422, "validation")
        assert body["field"] == field and "disagree" in body["detail"], body
    half = client.post(
        "/v1/relay", json={"typed_data": typed, "message": typed["message"], "signature": signature}
    )
    assert assert_problem(half, 422, "validation")["field"] == "message"
    agreeing = client.post(
        "/v1/relay",
        json={
            "typed_data": typed,
            "primary_type": "Registration",
            "message": typed["message"],
            "signature": signature,
        },
    )
    assert agreeing.status_code == 202, agreeing.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "ProviderRegistry"),
        ("version", "2"),
        ("chainId", 1),
        ("verifyingContract", "0x" + "12" * 20),
    ],
)
def test_a_wrong_domain_names_the_field_that_differs(
    client: TestClient, registry: RegistryClient, provider: LocalAccount, field: str, value: Any
) -> None:
    typed = _typed(client, "registration", provider=provider.address, name="Domain")
    other = _with(typed, "domain", **{field: value})
    body = assert_problem(_relay(client, other, _sign(provider, other)), 400, "wrong_domain")
    assert body["field"] == field and f"domain.{field}" in body["detail"], body
    assert body["expected"] == typed["domain"][field], body


def test_a_nonce_ahead_and_an_unknown_primary_type_are_refused(
    client: TestClient, provider: LocalAccount, registration: dict[str, Any]
) -> None:
    ahead = _with(registration, "message", nonce=1)
    body = assert_problem(_relay(client, ahead, _sign(provider, ahead)), 400, "invalid_nonce")
    assert body["current_nonce"] == 0
    unknown = {**registration, "primaryType": "Mint"}
    refused = assert_problem(_relay(client, unknown), 422, "validation")
    assert "primaryType" in refused["detail"]
    bare = client.post(
        "/v1/relay",
        json={"primary_type": "Mint", "message": {}, "signature": "0x" + "11" * 65},
    )
    assert assert_problem(bare, 422, "validation")["field"] == "primary_type"


def test_a_domain_type_declared_otherwise_is_refused(
    client: TestClient, registration: dict[str, Any]
) -> None:
    changed = copy.deepcopy(registration)
    changed["types"]["EIP712Domain"].pop(1)  # no version: a wallet would sign another digest
    body = assert_problem(_relay(client, changed), 422, "validation")
    assert "types.EIP712Domain" in body["detail"]
    extra = copy.deepcopy(registration)
    extra["types"]["Mint"] = []
    assert "types.Mint" in assert_problem(_relay(client, extra), 422, "validation")["detail"]


def test_the_openapi_example_names_the_registry_domain(
    client: TestClient, registry: RegistryClient
) -> None:
    assert TYPED_DATA_EXAMPLE["domain"]["name"] == registry.domain.name
    assert registry.domain.name == "DePIN ProviderRegistry"
