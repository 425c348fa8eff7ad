"""The transmitter in-process: approvals from two oracles become one submit that lands once,
including after a crash between signing and sending."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from attest_helpers import approved_bundle
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from fastapi.testclient import TestClient
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound

from depin.attestation_client import AttestationClient
from oracle.app import create_app
from oracle.node import OracleNode

pytestmark = pytest.mark.integration


MakeNode = Callable[..., OracleNode]


def _node(make_node: MakeNode, oracle: int, peers: list[str]) -> OracleNode:
    return make_node(
        oracle=oracle, name=f"o{oracle}", peers=peers, batch_age_s=0, require_proof=False
    )


TwoOracles = tuple[OracleNode, TestClient, TestClient]


@pytest.fixture
def two_oracles(make_node: MakeNode) -> TwoOracles:
    """Oracle 0 (which transmits) and oracle 1, whose HTTP it reaches in-process."""
    n0 = _node(make_node, 0, ["http://o1"])
    n1 = _node(make_node, 1, [])
    a0 = TestClient(create_app(n0, transmit=False))
    a1 = TestClient(create_app(n1, transmit=False))
    n0.transmitter.http = a1
    return n0, a0, a1


def test_bundles_land_exactly_once_across_a_restart(
    two_oracles: TwoOracles,
    w3: Web3,
    attestations: AttestationClient,
    provider: LocalAccount,
    agent: LocalAccount,
    make_node: MakeNode,
) -> None:
    n0, a0, a1 = two_oracles
    keys = []
    for _ in range(3):
        message, bundle = approved_bundle(w3, attestations, (a0, a1), provider, agent)
        assert a0.post("/v1/bundles", json=bundle).json()["queued"] is True
        assert a0.post("/v1/bundles", json=bundle).json()["queued"] is False  # no duplicates
        keys.append(message.gpu_key)

    # Sign and persist the transaction, then "die" before it is sent.
    sent: list[bytes] = []
    n0.transmitter.sender.broadcast = sent.append  # type: ignore[method-assign]
    n0.transmitter.maybe_submit()
    assert len(sent) == 1 and n0.store.queue_states() == {"sent": 3}
    assert not any(attestations.is_verified(k) for k in keys)

    # A fresh node on the same database re-sends the persisted transaction; nothing is rebuilt.
    restarted = _node(make_node, 0, ["http://o1"])
    restarted.transmitter.http = a1
    # The first step re-broadcasts the signed tx, a later one settles it from its receipt
    # (anvil mines at once, but a loaded machine may answer the receipt a step late).
    deadline = time.monotonic() + 20
    restarted.transmitter.step()
    while restarted.store.queue_states() != {"done": 3} and time.monotonic() < deadline:
        restarted.transmitter.step()
        time.sleep(0.05)
    assert restarted.store.queue_states() == {"done": 3}
    assert all(attestations.is_verified(k) for k in keys)
    rows = restarted.store.query("SELECT COUNT(*) FROM txs")
    assert rows[0][0] == 1


def test_an_unmined_transaction_is_replaced_with_higher_fees_and_lands_once(
    two_oracles: TwoOracles,
    w3: Web3,
    attestations: AttestationClient,
    provider: LocalAccount,
    agent: LocalAccount,
) -> None:
    """A submit that blocks do not take (here: no block is mined, as when a fee spike leaves
    it below the base fee) is re-signed at the same nonce with higher fees after
    resend_after_s; whichever version is mined settles the batch once."""
    n0, a0, a1 = two_oracles
    n0.settings.resend_after_s = 0.2
    message, bundle = approved_bundle(w3, attestations, (a0, a1), provider, agent)
    assert a0.post("/v1/bundles", json=bundle).json()["queued"] is True

    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        n0.transmitter.maybe_submit()
        ((first, first_raw),) = n0.store.query("SELECT tx_hash, raw FROM txs")
        time.sleep(0.3)
        n0.transmitter.reconcile()  # unmined past resend_after_s: replaced
        ((second, second_raw),) = n0.store.query("SELECT tx_hash, raw FROM txs")
        assert second != first
        old, new = (
            TypedTransaction.from_bytes(HexBytes(r)).as_dict() for r in (first_raw, second_raw)
        )
        assert new["nonce"] == old["nonce"] and new["data"] == old["data"]
        assert new["maxFeePerGas"] >= old["maxFeePerGas"] * 1.125
        assert new["maxPriorityFeePerGas"] >= old["maxPriorityFeePerGas"] * 1.125
        assert w3.eth.get_transaction(HexBytes(second))["hash"] == HexBytes(second)  # in the pool
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    n0.transmitter.reconcile()
    assert n0.store.queue_states() == {"done": 1}
    assert attestations.is_verified(message.gpu_key)
    assert w3.eth.get_transaction_receipt(HexBytes(second))["status"] == 1
    assert n0.store.query("SELECT COUNT(*), MIN(state) FROM txs") == [(1, "mined")]
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(HexBytes(first))  # the first version never landed
