"""The transaction sender on a real anvil node, over each ledger (in memory, SQLite,
PostgreSQL): a transaction lands exactly once across a crash, each way it can end (mined,
dropped, mined in an earlier version, cancelled) is settled once and told to the owner once,
and a transaction in flight is not sent twice for the same ref."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3

from depin.chain import Anvil, connect, running_anvil
from depin.txsender import (
    InMemoryLedger,
    Ledger,
    PostgresLedger,
    SqliteLedger,
    TxRecord,
    TxSender,
    TxState,
)

pytestmark = pytest.mark.integration

POSTGRES_URL = os.environ.get(
    "DEPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

Settled = list[tuple[TxRecord, TxState, Any]]


def _postgres_ledger() -> Iterator[PostgresLedger]:
    """A ledger in tables of its own in the test database (dropped after), or a skip."""
    name = f"txs_{secrets.token_hex(4)}"
    try:
        store = PostgresLedger(POSTGRES_URL, table=name, hashes_table=name + "_hashes")
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield store
    finally:
        with store.engine.begin() as db:
            db.exec_driver_sql(f"DROP TABLE IF EXISTS {name}, {name}_hashes")
        store.close()


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    """A node of this module's own: these tests switch automine off and drop transactions from
    the pool, which must neither meet nor disturb another test's blocks on the shared node."""
    with running_anvil() as node:
        yield node


@pytest.fixture(scope="module")
def w3(anvil: Anvil) -> Web3:
    return connect(anvil.rpc_url)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "memory":
        yield InMemoryLedger()
        return
    if request.param == "postgres":
        yield from _postgres_ledger()
        return
    store = SqliteLedger(tmp_path / "ledger.sqlite3")
    yield store
    store.close()


@pytest.fixture
def automine_off(w3: Web3) -> Iterator[None]:
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]


def _sender(w3: Web3, account: LocalAccount, ledger: Ledger, settled: Settled, **kw: Any) -> Any:
    def on_settled(record: TxRecord, state: TxState, receipt: Any) -> None:
        settled.append((record, state, receipt))

    return TxSender(w3, account, ledger, on_settled=on_settled, **kw)


def _transfer(to: str, value: int = 12345) -> dict[str, Any]:
    return {"to": to, "value": value}


def _payer(
    w3: Web3, ledger: Ledger, make_account: Callable[..., LocalAccount], **kw: Any
) -> tuple[LocalAccount, LocalAccount, Settled, Any]:
    """A funded account, an empty payee, the settlements seen and the account's sender."""
    account, payee = make_account(), make_account(fund=False)
    settled: Settled = []
    return account, payee, settled, _sender(w3, account, ledger, settled, **kw)


def _drop(w3: Web3, tx_hash: bytes) -> None:
    """Takes the transaction out of anvil's pool."""
    w3.provider.make_request("anvil_dropTransaction", ["0x" + tx_hash.hex()])  # type: ignore[arg-type]


def _mine(w3: Web3) -> None:
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


class _Crash(Exception):
    """Stands for the process dying between persisting and broadcasting."""


def test_a_transaction_persisted_but_never_broadcast_lands_once_after_a_restart(
    w3: Web3, ledger: Ledger, make_account: Callable[..., LocalAccount]
) -> None:
    account, payee = make_account(), make_account(fund=False)

    def crash(record: TxRecord) -> None:
        raise _Crash

    settled: Settled = []
    with pytest.raises(_Crash):
        _sender(w3, account, ledger, settled, after_persist=crash).send(
            _transfer(payee.address), kind="pay", ref="a"
        )
    ((record,),) = [ledger.records(account.address, TxState.SENT)]
    assert w3.eth.get_transaction_count(account.address, "pending") == 0  # never left

    restarted = _sender(w3, account, ledger, settled)
    restarted.reconcile()  # broadcasts it again (anvil mines it at once)
    restarted.reconcile()  # settles it by its receipt
    restarted.reconcile()  # nothing left to do
    assert ledger.get(record.id).state is TxState.MINED  # type: ignore[union-attr]
    assert [(r.id, s) for r, s, _ in settled] == [(record.id, TxState.MINED)]
    assert settled[0][2]["transactionHash"] == HexBytes(record.tx_hash)
    assert w3.eth.get_transaction_count(account.address, "latest") == 1
    assert w3.eth.get_balance(payee.address) == 12345  # exactly once


def test_a_transaction_whose_nonce_another_took_is_dropped(
    w3: Web3, ledger: Ledger, make_account: Callable[..., LocalAccount], automine_off: None
) -> None:
    account, payee, settled, sender = _payer(w3, ledger, make_account, resend_after_s=3600)
    record = sender.send(_transfer(payee.address), kind="pay", ref="b")
    _drop(w3, record.tx_hash)
    # The same account spends the nonce on something the ledger never saw.
    other = account.sign_transaction(
        {
            "to": account.address,
            "value": 1,
            "nonce": record.nonce,
            "gas": 21_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
            "chainId": w3.eth.chain_id,
        }
    )
    w3.eth.send_raw_transaction(other.raw_transaction)
    _mine(w3)
    sender.reconcile()
    sender.reconcile()
    assert ledger.get(record.id).state is TxState.DROPPED  # type: ignore[union-attr]
    assert [(r.id, s, rc) for r, s, rc in settled] == [(record.id, TxState.DROPPED, None)]
    assert w3.eth.get_balance(payee.address) == 0


def test_a_replaced_transaction_whose_earlier_version_is_mined_settles_as_mined(
    w3: Web3, ledger: Ledger, make_account: Callable[..., LocalAccount], automine_off: None
) -> None:
    account, payee, settled, sender = _payer(w3, ledger, make_account, resend_after_s=0.0)
    first = sender.send(_transfer(payee.address), kind="pay", ref="c")
    sender.reconcile()  # unmined past resend_after_s: replaced with higher fees
    (replaced,) = ledger.records(account.address, TxState.SENT)
    assert replaced.tx_hash != first.tx_hash and replaced.nonce == first.nonce
    assert ledger.hashes(first.id) == [first.tx_hash]
    # The first version is the one a block takes (anvil drops a replaced transaction from its
    # pool, so the replacement is taken out and the original handed back).
    _drop(w3, replaced.tx_hash)
    w3.eth.send_raw_transaction(first.raw)
    _mine(w3)
    sender.reconcile()
    sender.reconcile()
    assert ledger.get(first.id).state is TxState.MINED  # type: ignore[union-attr]
    assert [(r.id, s) for r, s, _ in settled] == [(first.id, TxState.MINED)]
    assert settled[0][2]["transactionHash"] == HexBytes(first.tx_hash)
    assert w3.eth.get_balance(payee.address) == 12345


def test_a_transaction_whose_call_would_now_revert_is_cancelled(
    w3: Web3, ledger: Ledger, make_account: Callable[..., LocalAccount]
) -> None:
    account, payee = make_account(), make_account(fund=False)
    settled: Settled = []
    asked: list[int] = []

    def should_cancel(record: TxRecord) -> bool:
        asked.append(record.id)
        return True

    sender = _sender(w3, account, ledger, settled, resend_after_s=0.0, should_cancel=should_cancel)
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        record = sender.send(_transfer(payee.address), kind="pay", ref="d")
        _drop(w3, record.tx_hash)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    sender.reconcile()  # cancels it (mined at once)
    sender.reconcile()  # settles it
    sender.reconcile()
    assert asked == [record.id]
    assert ledger.get(record.id).state is TxState.CANCELLED  # type: ignore[union-attr]
    assert [(r.id, s) for r, s, _ in settled] == [(record.id, TxState.CANCELLED)]
    receipt = settled[0][2]
    assert receipt["to"] == account.address and receipt["status"] == 1
    assert w3.eth.get_balance(payee.address) == 0
    assert w3.eth.get_transaction_count(account.address, "latest") == record.nonce + 1


def test_the_next_nonce_passes_the_ledgers_unmined_transactions(
    w3: Web3, ledger: Ledger, make_account: Callable[..., LocalAccount], automine_off: None
) -> None:
    account = make_account()
    sender = TxSender(w3, account, ledger, resend_after_s=3600)
    first = sender.send(_transfer(Account.create().address), kind="pay")
    _drop(w3, first.tx_hash)
    second = sender.send(_transfer(Account.create().address), kind="pay")
    assert (first.nonce, second.nonce) == (0, 1)  # the node forgot the first; the ledger did not
    assert [r.nonce for r in ledger.records(account.address, TxState.SENT)] == [0, 1]


def test_sending_once_answers_the_transaction_in_flight_for_the_same_ref(
    w3: Web3, ledger: Ledger, make_account: Callable[..., LocalAccount], automine_off: None
) -> None:
    account, payee = make_account(), make_account(fund=False)
    sender = TxSender(w3, account, ledger, resend_after_s=3600)
    first = sender.send(_transfer(payee.address), kind="pay", ref="e", once=True)
    again = sender.send(_transfer(payee.address), kind="pay", ref="e", once=True)
    other = sender.send(_transfer(payee.address), kind="pay", ref="f", once=True)
    assert again == first and other.nonce == first.nonce + 1
    assert w3.eth.get_transaction_count(account.address, "pending") == 2
    _mine(w3)
    sender.reconcile()
    assert ledger.get(first.id).state is TxState.MINED  # type: ignore[union-attr]
    # Settled, it is no longer in flight: the same ref may be sent again.
    third = sender.send(_transfer(payee.address), kind="pay", ref="e", once=True)
    assert third.id != first.id and third.nonce == first.nonce + 2
