"""The transmitter behind a faulty node: JSON-RPC errors ("header not found" among them),
dropped connections and latency on the transmitting oracle's RPC; every queued attestation
still lands exactly once, and no transaction reverts."""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# The fault-injecting proxy lives beside the indexer's suite.
sys.path.insert(0, str(_Path(__file__).resolve().parents[1] / "indexer"))

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from attest_helpers import approved_bundle
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from hexbytes import HexBytes
from httpx import Response
from rpc_proxy import FaultyProxy
from web3 import Web3

from depin.attestation_client import AttestationClient
from depin.chain import Anvil, free_port
from oracle.app import create_app
from oracle.node import OracleNode
from oracle.settings import OracleSettings

pytestmark = pytest.mark.integration

N = 12


def _retrying(send: Callable[[], Response], deadline: float) -> Response:
    """``send()``'s answer, asked again on a 5xx as a client would, until ``deadline``."""
    while True:
        response = send()
        if response.status_code < 500 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_queued_attestations_land_exactly_once_behind_a_flaky_node(
    anvil: Anvil,
    home: Path,
    w3: Web3,
    attestations: AttestationClient,
    oracle_accounts: list[LocalAccount],
    make_provider: Callable[..., LocalAccount],
    make_agent: Callable[..., LocalAccount],
) -> None:
    start = int(w3.eth.block_number) + 1
    proxy = FaultyProxy(
        anvil.rpc_url, free_port(), error_rate=0.10, drop_rate=0.05, latency=(0.0, 0.005), seed=11
    ).start()
    # On top of the random faults, the submits and their receipts meet some for sure: a send
    # refused, one dropped before the node, and one the node takes but whose answer is lost.
    proxy.inject("lag", 1, method="eth_sendRawTransaction")
    proxy.inject("reset", 1, method="eth_sendRawTransaction")
    proxy.inject("lost_reply", 1, method="eth_sendRawTransaction")
    proxy.inject("lag", 2, method="eth_getTransactionReceipt")
    try:
        # Oracle 0 transmits, in batches of 3 (four submits), through the proxy.
        common: dict[str, Any] = {
            "home": home,
            "batch_age_s": 0,
            "liveness": False,
            "require_proof": False,
        }
        n0 = OracleNode(
            OracleSettings(
                rpc_url=proxy.url, name="o0", peers=["http://o1"], batch_max=3, **common
            ),
            oracle_accounts[0],
        )
        n1 = OracleNode(
            OracleSettings(rpc_url=anvil.rpc_url, name="o1", peers=[], **common),
            oracle_accounts[1],
        )
        a0 = TestClient(create_app(n0, transmit=False), raise_server_exceptions=False)
        a1 = TestClient(create_app(n1, transmit=False), raise_server_exceptions=False)
        n0.transmitter.http = a1

        provider = make_provider()
        agent = make_agent(provider)
        deadline = time.monotonic() + 60
        keys = []
        for _ in range(N):
            message, bundle = approved_bundle(
                w3, attestations, (a0, a1), provider, agent, lambda send: _retrying(send, deadline)
            )
            key = message.gpu_key
            queued = _retrying(lambda b=bundle: a0.post("/v1/bundles", json=b), deadline)
            assert queued.status_code == 202, queued.text
            keys.append(key)
        assert n0.store.queue_states() == {"pending": N}

        # Step as the transmitter's loop does (which logs a failed step and steps again).
        failed_steps: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                n0.transmitter.step()
            except Exception as exc:
                failed_steps.append(f"{type(exc).__name__}: {exc}")
            if n0.store.queue_states() == {"done": N} and not n0.store.query(
                "SELECT 1 FROM txs WHERE state = 'sent'"
            ):
                break
            time.sleep(0.05)
    finally:
        proxy.stop()

    assert n0.store.queue_states() == {"done": N}, (n0.store.queue_states(), failed_steps)
    txs = n0.store.query("SELECT tx_hash, state FROM txs")
    assert {state for _, state in txs} == {"mined"}, txs
    assert all(w3.eth.get_transaction_receipt(HexBytes(h))["status"] == 1 for h, _ in txs)
    # Every transaction the oracle sent since the test began was one of its ledger's, and none
    # reverted (a duplicate submit would revert, or attest nothing new).
    mined = int(w3.eth.get_transaction_count(oracle_accounts[0].address, "latest"))
    assert mined == len(txs) == N // 3

    events = attestations.contract.events.GpuAttested().get_logs(from_block=start)
    per_key = Counter(bytes(e["args"]["gpuKey"]) for e in events)
    assert per_key == Counter({k: 1 for k in keys})
    assert all(attestations.is_verified(k) for k in keys)
    assert proxy.injected["lost_reply"] == 1, proxy.injected
    assert proxy.injected["reset"] >= 1 and proxy.injected["lag"] >= 3, proxy.injected
    print("injected:", dict(proxy.injected), "failed steps:", failed_steps)
