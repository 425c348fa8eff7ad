"""The gasless relay behind a faulty node: JSON-RPC errors ("header not found" among them),
dropped connections and latency on the API's chain RPC; clients that ask again on a 5xx see
one hash per signed message, and each provider is registered exactly once."""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# The fault-injecting proxy lives beside the indexer's suite.
sys.path.insert(0, str(_Path(__file__).resolve().parents[1] / "indexer"))

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hexbytes import HexBytes
from rpc_proxy import FaultyProxy

from api import ApiSettings, create_app
from api.chain import ChainContext
from api.db import read_only_engine
from api.relay import RELAY, follow
from depin.chain import connect, free_port
from depin.registry import RegistryClient, Status
from depin.rpc import RetryPolicy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 10


def _wallet_sign(account: LocalAccount, typed: dict[str, Any]) -> str:
    """Signs like a wallet's eth_signTypedData_v4: the full JSON, as the endpoint gave it."""
    signed = Account.sign_typed_data(account.key, full_message=typed)
    return "0x" + bytes(signed.signature).hex()


def _behind(
    proxy: FaultyProxy,
    api_settings: ApiSettings,
    registry: RegistryClient,
    relayer: LocalAccount,
    policy: RetryPolicy | None = None,
) -> tuple[ChainContext, FastAPI]:
    """The API, its reads and the relayer's sends all through ``proxy``."""
    proxied = connect(proxy.url, policy=policy)
    chain = ChainContext(
        proxied, RegistryClient(proxied, registry.address), relayer, int(registry.w3.eth.chain_id)
    )
    settings = api_settings.model_copy(update={"rpc_url": proxy.url})
    app = create_app(
        settings, chain=chain, engine=read_only_engine(settings.url), check_migrations=False
    )
    return chain, app


def _follow(chain: ChainContext, ledger: Any, relayer: LocalAccount, tries: int) -> None:
    """Follows the relayer's transactions until none is sent and unsettled, ``tries`` at most."""
    for _ in range(tries):
        follow(chain, ledger, resend_after_s=60.0, max_fee=None)
        if not ledger.sent(relayer.address):
            return
        time.sleep(0.1)


def _retrying(send: Callable[[], httpx.Response], deadline: float) -> list[httpx.Response]:
    """Every answer ``send()`` got, asked again on a 5xx or a connection error as a client
    would, until one is not a 5xx or ``deadline`` passes."""
    answers: list[httpx.Response] = []
    while time.monotonic() < deadline:
        try:
            response = send()
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        answers.append(response)
        if response.status_code < 500:
            break
        time.sleep(0.05)
    return answers


def test_relayed_registrations_land_exactly_once_behind_a_flaky_node(
    api_settings: ApiSettings,
    registry: RegistryClient,
    relayer: LocalAccount,
    make_account: Callable[..., LocalAccount],
) -> None:
    w3 = registry.w3  # a direct connection, for the checks
    start = int(w3.eth.block_number) + 1
    relayer_before = int(w3.eth.get_transaction_count(relayer.address, "latest"))
    proxy = FaultyProxy(
        w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        free_port(),
        error_rate=0.10,
        drop_rate=0.05,
        latency=(0.0, 0.005),
        seed=5,
    ).start()
    # On top of the random faults, the relay's own sends and receipts meet some for sure.
    proxy.inject("lag", 2, method="eth_sendRawTransaction")
    proxy.inject("reset", 2, method="eth_sendRawTransaction")
    proxy.inject("lost_reply", 2, method="eth_sendRawTransaction")  # sent, answer lost
    proxy.inject("lag", 2, method="eth_getTransactionReceipt")
    providers = [make_account(fund=False) for _ in range(N)]
    answers: dict[str, list[httpx.Response]] = {}
    try:
        chain, app = _behind(proxy, api_settings, registry, relayer)
        with TestClient(app, raise_server_exceptions=False) as client:
            deadline = time.monotonic() + 60
            for provider in providers:
                body = {"provider": provider.address, "name": "Acme GPU", "region": "eu-west"}
                typed = _retrying(
                    lambda b=body: client.post("/v1/typed-data/registration", json=b), deadline
                )[-1]
                assert typed.status_code == 200, typed.text
                typed_data: dict[str, Any] = typed.json()["typed_data"]
                relay = {"typed_data": typed_data, "signature": _wallet_sign(provider, typed_data)}
                answers[provider.address] = _retrying(
                    lambda r=relay: client.post("/v1/relay", json=r), deadline
                )
            ledger = client.app.state.relay_ledger  # type: ignore[attr-defined]
            _follow(chain, ledger, relayer, tries=5)
            states = ledger.states(relayer.address)
            records = ledger.ledger.records(relayer.address)
    finally:
        proxy.stop()

    codes = {p: [a.status_code for a in got] for p, got in answers.items()}
    relayed = {p: {a.json().get("tx_hash") for a in got} for p, got in answers.items()}
    assert all(got[-1] == 202 for got in codes.values()), codes
    assert all(len(hashes) == 1 for hashes in relayed.values()), relayed

    events = registry.contract.events.ProviderRegistered().get_logs(from_block=start)
    per_provider = Counter(str(e["args"]["provider"]) for e in events)
    assert per_provider == Counter({p.address: 1 for p in providers})
    assert all(registry.record(p.address).status is Status.ACTIVE for p in providers)

    # One transaction per message, all mined, none reverted, and none the ledger does not know.
    assert len(records) == N and {r.kind for r in records} == {RELAY}
    assert set(states.values()) == {"mined"}, states
    assert {"0x" + r.tx_hash.hex() for r in records} == {h for (h,) in relayed.values()}
    assert all(w3.eth.get_transaction_receipt(HexBytes(r.tx_hash))["status"] == 1 for r in records)
    assert int(w3.eth.get_transaction_count(relayer.address, "latest")) == relayer_before + N
    assert proxy.injected["lost_reply"] == 2, proxy.injected
    assert proxy.injected["reset"] >= 2 and proxy.injected["lag"] >= 4, proxy.injected
    print("injected:", dict(proxy.injected), "answers:", codes)


def test_a_send_the_node_took_before_going_away_is_answered_and_followed(
    api_settings: ApiSettings,
    registry: RegistryClient,
    relayer: LocalAccount,
    make_account: Callable[..., LocalAccount],
) -> None:
    """The node takes the transaction, its answer is lost, and every repeat fails past the
    retry budget: the relay answers 202 with the hash (not a 503 for a transaction that lands),
    keeps it in the ledger, and the follower settles it as mined."""
    w3 = registry.w3
    start = int(w3.eth.block_number) + 1
    proxy = FaultyProxy(w3.provider.endpoint_uri, free_port(), seed=7).start()  # type: ignore[attr-defined]
    proxy.inject("lost_reply", 1, method="eth_sendRawTransaction")
    proxy.inject("reset", 1_000, method="eth_sendRawTransaction")
    provider = make_account(fund=False)
    try:
        policy = RetryPolicy(give_up_after=1.0, initial_wait=0.05)
        chain, app = _behind(proxy, api_settings, registry, relayer, policy)
        with TestClient(app, raise_server_exceptions=False) as client:
            body = {"provider": provider.address, "name": "Acme GPU", "region": "eu-west"}
            typed = client.post("/v1/typed-data/registration", json=body)
            assert typed.status_code == 200, typed.text
            typed_data: dict[str, Any] = typed.json()["typed_data"]
            relay = {"typed_data": typed_data, "signature": _wallet_sign(provider, typed_data)}
            answer = client.post("/v1/relay", json=relay)
            assert answer.status_code == 202, answer.text
            tx_hash = answer.json()["tx_hash"]
            ledger = client.app.state.relay_ledger  # type: ignore[attr-defined]
            _follow(chain, ledger, relayer, tries=20)
            records = ledger.ledger.records(relayer.address)
    finally:
        proxy.stop()
    assert proxy.injected["lost_reply"] == 1, proxy.injected
    mined = [r for r in records if "0x" + r.tx_hash.hex() == tx_hash]
    assert [r.state.value for r in mined] == ["mined"]
    events = registry.contract.events.ProviderRegistered().get_logs(from_block=start)
    assert [str(e["args"]["provider"]) for e in events] == [provider.address]
    assert w3.eth.get_transaction_receipt(HexBytes(tx_hash))["status"] == 1
