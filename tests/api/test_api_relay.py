"""Typed data for wallets and the gasless relay: what lands, and what is refused before gas."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from api_helpers import assert_problem
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from fastapi.testclient import TestClient
from hexbytes import HexBytes

from api.chain import ChainContext
from api.relay import follow
from depin.registry import Profile, RegistryClient, Status


def typed_data(client: TestClient, kind: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/v1/typed-data/{kind}", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def wallet_sign(account: LocalAccount, typed: dict[str, Any]) -> str:
    """Signs like a wallet's eth_signTypedData_v4: the full JSON, as the endpoint gave it."""
    signed = Account.sign_typed_data(account.key, full_message=typed)
    return "0x" + bytes(signed.signature).hex()


def registration(client: TestClient, provider: str, **extra: Any) -> dict[str, Any]:
    return typed_data(
        client, "registration", provider=provider, name="Acme GPU", region="eu-west", **extra
    )


def test_registration_signed_like_a_wallet_lands(
    client: TestClient, registry: RegistryClient, make_account: Callable[..., LocalAccount]
) -> None:
    provider = make_account(fund=False)
    answer = registration(client, provider.address)
    typed = answer["typed_data"]
    assert typed["primaryType"] == "Registration"
    assert typed["domain"]["verifyingContract"] == registry.address
    assert answer["nonce"] == 0 and answer["deadline"] > time.time()
    response = client.post(
        "/v1/relay", json={"typed_data": typed, "signature": wallet_sign(provider, typed)}
    )
    assert response.status_code == 202, response.text
    receipt = registry.w3.eth.wait_for_transaction_receipt(response.json()["tx_hash"])
    assert receipt["status"] == 1
    assert registry.record(provider.address).status is Status.ACTIVE
    assert registry.profile(provider.address)["name"] == "Acme GPU"  # type: ignore[index]


def test_every_typed_data_kind_relays(
    client: TestClient, registry: RegistryClient, make_account: Callable[..., LocalAccount]
) -> None:
    provider = make_account(fund=False)
    agent = make_account(fund=False).address
    steps: list[tuple[str, dict[str, Any]]] = [
        ("registration", {"name": "first"}),
        ("profile-update", {"name": "second", "region": "us-east"}),
        ("agent-authorization", {"agent": agent, "expires_at": int(time.time()) + 86400}),
        ("agent-revocation", {"agent": agent}),
        ("deregistration", {}),
    ]
    for kind, body in steps:
        typed = typed_data(client, kind, provider=provider.address, **body)["typed_data"]
        # The bare message form (primary type + message) is accepted too.
        response = client.post(
            "/v1/relay",
            json={
                "primary_type": typed["primaryType"],
                "message": typed["message"],
                "signature": wallet_sign(provider, typed),
            },
        )
        assert response.status_code == 202, (kind, response.text)
        registry.w3.eth.wait_for_transaction_receipt(response.json()["tx_hash"])
    assert registry.record(provider.address).status is Status.DEREGISTERED


def test_bad_signature_is_refused_without_a_transaction(
    client: TestClient,
    registry: RegistryClient,
    relayer: LocalAccount,
    make_account: Callable[..., LocalAccount],
) -> None:
    provider, impostor = make_account(fund=False), make_account(fund=False)
    typed = registration(client, provider.address)["typed_data"]
    before = registry.w3.eth.get_transaction_count(relayer.address, "pending")
    response = client.post(
        "/v1/relay", json={"typed_data": typed, "signature": wallet_sign(impostor, typed)}
    )
    body = assert_problem(response, 400, "invalid_signature")
    assert impostor.address in body["detail"]
    garbage = client.post("/v1/relay", json={"typed_data": typed, "signature": "0x" + "00" * 65})
    assert_problem(garbage, 400, "invalid_signature")
    assert registry.w3.eth.get_transaction_count(relayer.address, "pending") == before


def test_expired_deadline_and_used_nonce_are_refused(
    client: TestClient,
    registry: RegistryClient,
    relayer: LocalAccount,
    make_account: Callable[..., LocalAccount],
) -> None:
    provider = make_account(fund=False)
    typed = registration(client, provider.address)["typed_data"]
    expired = {**typed, "message": {**typed["message"], "deadline": int(time.time()) - 5}}
    response = client.post(
        "/v1/relay", json={"typed_data": expired, "signature": wallet_sign(provider, expired)}
    )
    assert_problem(response, 400, "expired_deadline")

    signature = wallet_sign(provider, typed)
    first = client.post("/v1/relay", json={"typed_data": typed, "signature": signature})
    assert first.status_code == 202, first.text
    registry.w3.eth.wait_for_transaction_receipt(first.json()["tx_hash"])
    before = registry.w3.eth.get_transaction_count(relayer.address, "pending")
    again = client.post("/v1/relay", json={"typed_data": typed, "signature": signature})
    body = assert_problem(again, 409, "nonce_used")
    assert body["current_nonce"] == 1
    assert registry.w3.eth.get_transaction_count(relayer.address, "pending") == before


def test_wrong_domain_and_contract_refusals(
    client: TestClient,
    registry: RegistryClient,
    make_account: Callable[..., LocalAccount],
    make_provider: Callable[..., LocalAccount],
) -> None:
    provider = make_account(fund=False)
    typed = registration(client, provider.address)["typed_data"]
    other = {**typed, "domain": {**typed["domain"], "chainId": 1}}
    response = client.post(
        "/v1/relay", json={"typed_data": other, "signature": wallet_sign(provider, other)}
    )
    assert_problem(response, 400, "wrong_domain")
    # A valid signature the contract still refuses (already registered): caught by the dry run.
    registered = make_provider()
    typed = registration(client, registered.address)["typed_data"]
    response = client.post(
        "/v1/relay", json={"typed_data": typed, "signature": wallet_sign(registered, typed)}
    )
    body = assert_problem(response, 422, "contract_refused")
    assert body["contract_error"] == "ProviderRegistryAlreadyRegistered"


def test_erc1271_wallet_registration_is_accepted(
    client: TestClient,
    registry: RegistryClient,
    make_account: Callable[..., LocalAccount],
    make_contract_wallet: Callable[[LocalAccount], str],
) -> None:
    owner, stranger = make_account(), make_account(fund=False)
    wallet = make_contract_wallet(owner)
    typed = registration(client, wallet)["typed_data"]
    refused = client.post(
        "/v1/relay", json={"typed_data": typed, "signature": wallet_sign(stranger, typed)}
    )
    assert_problem(refused, 400, "invalid_signature")
    response = client.post(
        "/v1/relay", json={"typed_data": typed, "signature": wallet_sign(owner, typed)}
    )
    assert response.status_code == 202, response.text
    registry.w3.eth.wait_for_transaction_receipt(response.json()["tx_hash"])
    assert registry.record(wallet).status is Status.ACTIVE


def test_rate_limits_per_address_and_per_ip(
    make_client: Callable[..., TestClient], make_account: Callable[..., LocalAccount]
) -> None:
    client = make_client(address_burst=2, address_rate=0.01)
    provider = make_account(fund=False)
    typed = registration(client, provider.address)["typed_data"]
    bad = {"typed_data": typed, "signature": "0x" + "00" * 65}
    for _ in range(2):
        assert_problem(client.post("/v1/relay", json=bad), 400, "invalid_signature")
    limited = client.post("/v1/relay", json=bad)
    assert_problem(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1

    client = make_client(ip_burst=3, ip_rate=0.01)
    for _ in range(3):
        assert client.get("/v1/auth/nonce").status_code == 200
    assert_problem(client.get("/v1/auth/nonce"), 429, "rate_limited")


def test_typed_data_validation(client: TestClient, registry: RegistryClient) -> None:
    provider = Account.create().address
    assert_problem(
        client.post("/v1/typed-data/registration", json={"provider": provider, "name": ""}),
        422,
        "validation",
    )
    assert_problem(
        client.post("/v1/typed-data/registration", json={"provider": provider, "name": "é" * 40}),
        422,
        "validation",
    )
    assert_problem(
        client.post("/v1/typed-data/agent-revocation", json={"provider": "0x12"}), 422, "validation"
    )
    assert_problem(client.post("/v1/relay", json={"signature": "0x00"}), 422, "validation")
    # Profile round trip: the signed digest is the contract's own.
    answer = registration(client, provider)
    profile = Profile("Acme GPU", "eu-west")
    digest = registry.contract.functions.registrationDigest(
        provider, profile.as_tuple(), answer["nonce"], answer["deadline"]
    ).call()
    assert "0x" + bytes(digest).hex() == answer["digest"]


def test_relayed_registration_appears_in_the_explorer_once_indexed(
    client: TestClient,
    registry: RegistryClient,
    make_account: Callable[..., LocalAccount],
    api_settings: Any,
    home: Any,
) -> None:
    from inventory_world import index_world

    from depin import deployments

    provider = make_account(fund=False)
    typed = registration(client, provider.address)["typed_data"]
    response = client.post(
        "/v1/relay", json={"typed_data": typed, "signature": wallet_sign(provider, typed)}
    )
    assert response.status_code == 202, response.text
    tx_hash = response.json()["tx_hash"]
    registry.w3.eth.wait_for_transaction_receipt(tx_hash)
    # Nothing indexed yet: the database cannot answer, and says so without a 500.
    assert_problem(client.get(f"/v1/providers/{provider.address}"), 503, "unavailable")

    deployed = deployments.load(home / "deployments", registry.w3.eth.chain_id, "ProviderRegistry")
    world = type(
        "Registry",
        (),
        {
            "w3": registry.w3,
            "contracts": {
                "ProviderRegistry": {"address": registry.address, "block": deployed.block}
            },
        },
    )
    index_world(world, api_settings.url, home).dispose()  # type: ignore[arg-type]
    listed = client.get("/v1/providers").json()
    assert provider.address in [p["address"] for p in listed["items"]]
    detail = client.get(f"/v1/providers/{provider.address}").json()
    assert detail["provider"]["name"] == "Acme GPU"
    assert detail["as_of_block"] >= registry.w3.eth.get_transaction_receipt(tx_hash)["blockNumber"]


def _relay_registration(client: TestClient, provider: LocalAccount) -> str:
    typed = registration(client, provider.address)["typed_data"]
    response = client.post(
        "/v1/relay", json={"typed_data": typed, "signature": wallet_sign(provider, typed)}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["tx_hash"])


def test_an_unmined_relayed_transaction_is_replaced_with_higher_fees(
    client: TestClient,
    chain_ctx: ChainContext,
    registry: RegistryClient,
    make_account: Callable[..., LocalAccount],
) -> None:
    w3, ledger = registry.w3, client.app.state.relay_ledger  # type: ignore[attr-defined]
    relayer = chain_ctx.relayer.address
    provider = make_account(fund=False)
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        first = _relay_registration(client, provider)  # no block takes it
        ((nonce, _, first_raw, _),) = ledger.sent(relayer)
        follow(chain_ctx, ledger, resend_after_s=0.0, max_fee=None)
        ((_, second, raw, _),) = ledger.sent(relayer)
        assert "0x" + second.hex() != first
        old, new = (TypedTransaction.from_bytes(HexBytes(r)).as_dict() for r in (first_raw, raw))
        assert new["nonce"] == nonce and new["to"] == HexBytes(registry.address)
        assert new["data"] == old["data"]
        assert new["maxFeePerGas"] >= old["maxFeePerGas"] * 1.125
        assert ledger.hashes(relayer, nonce) == [bytes.fromhex(first[2:])]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    follow(chain_ctx, ledger, resend_after_s=0.0, max_fee=None)
    assert ledger.states(relayer)[nonce] == "mined"
    assert registry.record(provider.address).status is Status.ACTIVE
    receipt = w3.eth.get_transaction_receipt(HexBytes(second))
    assert receipt["status"] == 1 and receipt["effectiveGasPrice"] > 0


def test_a_relayed_call_that_can_no_longer_succeed_is_cancelled_to_free_its_nonce(
    client: TestClient,
    chain_ctx: ChainContext,
    registry: RegistryClient,
    make_account: Callable[..., LocalAccount],
) -> None:
    """The relayed registration leaves the pool unmined; meanwhile the provider registers from
    its own wallet. Re-sending the call would only revert: the nonce is freed by a 0-value
    transfer instead, so later relayed transactions do not wait behind it."""
    w3, ledger = registry.w3, client.app.state.relay_ledger  # type: ignore[attr-defined]
    relayer = chain_ctx.relayer.address
    provider = make_account()
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        first = _relay_registration(client, provider)
        w3.provider.make_request("anvil_dropTransaction", [first])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    registry.register(provider, Profile("Acme GPU", "eu-west"))
    ((nonce, _, _, _),) = ledger.sent(relayer)
    assert w3.eth.get_transaction_count(relayer, "latest") == nonce  # the relayer is stuck
    follow(chain_ctx, ledger, resend_after_s=0.0, max_fee=None)  # cancels (mined at once)
    follow(chain_ctx, ledger, resend_after_s=0.0, max_fee=None)  # settles
    assert ledger.states(relayer)[nonce] == "cancelled"
    assert w3.eth.get_transaction_count(relayer, "latest") == nonce + 1


def test_the_same_signed_message_relayed_while_pending_is_sent_once(
    client: TestClient,
    chain_ctx: ChainContext,
    registry: RegistryClient,
    make_account: Callable[..., LocalAccount],
) -> None:
    """Relayed three times while its transaction waits for a block: one transaction, and three
    identical answers carrying its hash (the ledger is keyed by the message's digest)."""
    w3, ledger = registry.w3, client.app.state.relay_ledger  # type: ignore[attr-defined]
    relayer = chain_ctx.relayer.address
    provider = make_account(fund=False)
    answer = registration(client, provider.address)
    body = {
        "typed_data": answer["typed_data"],
        "signature": wallet_sign(provider, answer["typed_data"]),
    }
    before = w3.eth.get_transaction_count(relayer, "pending")
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        answers = [client.post("/v1/relay", json=body) for _ in range(3)]
        pending = w3.eth.get_transaction_count(relayer, "pending")
        in_flight = ledger.ledger.find("relay", answer["digest"])
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert [a.status_code for a in answers] == [202, 202, 202], [a.text for a in answers]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert pending == before + 1
    assert ["0x" + r.tx_hash.hex() for r in in_flight] == [answers[0].json()["tx_hash"]]
    receipt = w3.eth.get_transaction_receipt(answers[0].json()["tx_hash"])
    assert receipt["status"] == 1
    assert registry.record(provider.address).status is Status.ACTIVE
    # Mined, it is no longer in flight: the same message now only meets its used nonce.
    assert_problem(client.post("/v1/relay", json=body), 409, "nonce_used")
    assert w3.eth.get_transaction_count(relayer, "pending") == before + 1
