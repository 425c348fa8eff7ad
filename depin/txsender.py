"""One account's transactions, from signing to a settled outcome, durable across crashes.

A :class:`TxSender` signs a call with the account's next nonce, writes the signed transaction
to its :class:`Ledger`, and only then broadcasts it, so a process killed in between loses
nothing: :meth:`TxSender.reconcile` finds the transaction in the ledger and broadcasts it
again. Each reconcile pass settles what it can:

- a transaction mined in any of its versions (the first and each fee-bumped replacement) is
  :attr:`TxState.MINED` or :attr:`TxState.REVERTED` by its receipt, or
  :attr:`TxState.CANCELLED` when the version mined is the 0-value self-transfer that freed its
  nonce;
- one whose nonce was taken by a transaction the ledger does not know is
  :attr:`TxState.DROPPED`;
- one the node refuses to take back because another transaction holds its nonce in the pool
  at a fee it cannot beat is :attr:`TxState.REPLACED`;
- one unmined for ``resend_after_s`` is re-signed at its nonce with higher fees (within
  ``max_fee``), or cancelled when the owner says its call would now only revert;
- one missing from the node's pool is broadcast again.

The owner learns each outcome from ``on_settled(record, state, receipt)``, called before the
ledger records the outcome: a process killed in between calls it again for the same record on
its next pass, so owners make it idempotent. Each record carries the owner's ``kind`` and an
opaque ``ref`` (the oracle's batch id or epoch) to find what the transaction was for.

The ledger is an interface with three implementations run through one test suite:
:class:`InMemoryLedger` (one process; tests and tools), :class:`SqliteLedger` (a
:class:`depin.sqlite.LocalDb` file, shareable between the processes of one host) and
:class:`PostgresLedger` (shareable between hosts).

With ``once``, :meth:`TxSender.send` is idempotent by the owner's ``ref``: a record of the
same kind and ref still :attr:`TxState.SENT` is answered instead of a second transaction.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from depin.chain import replacement, translate_error
from depin.errors import ChainError, facts
from depin.sqlite import LocalDb

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = [
    "BroadcastError",
    "EstimateError",
    "InMemoryLedger",
    "Ledger",
    "PostgresLedger",
    "SqliteLedger",
    "TxRecord",
    "TxSender",
    "TxState",
    "would_revert",
]

log = logging.getLogger("depin.txsender")


def _refused_by_node(exc: Exception) -> bool:
    """Whether a failed broadcast is the node's answer (an RPC error: the transaction was not
    taken), rather than no answer at all (the transaction may have been taken)."""
    return isinstance(exc, Web3RPCError) or (
        isinstance(exc, ValueError) and not isinstance(exc, ChainError)
    )


class TxState(enum.StrEnum):
    """Where a sent transaction stands; every state but :attr:`SENT` is final."""

    SENT = "sent"
    """Signed and in the ledger; broadcast (or to be broadcast again), not settled yet."""
    MINED = "mined"
    REVERTED = "reverted"
    DROPPED = "dropped"
    """Its nonce was used by a transaction the ledger does not know."""
    REPLACED = "replaced"
    """The pool holds another transaction at its nonce, at a fee it cannot beat."""
    CANCELLED = "cancelled"
    """A 0-value transfer to the sender itself took its nonce."""


@dataclass(frozen=True)
class TxRecord:
    """One transaction as the ledger keeps it: its latest version's hash and signed bytes."""

    id: int
    sender: str
    kind: str
    ref: str
    nonce: int
    tx_hash: bytes
    raw: bytes
    sent_at: float
    state: TxState = TxState.SENT


class Ledger(Protocol):
    """Durable storage of an account's signed transactions and their earlier hashes."""

    def add(self, record: TxRecord) -> TxRecord:
        """Store a newly signed transaction; the record as stored (with its ``id``)."""

    def get(self, tx_id: int) -> TxRecord | None:
        """The record, or ``None`` if it is unknown (or forgotten)."""

    def records(self, sender: str, state: TxState | None = None) -> list[TxRecord]:
        """The account's records (in ``state``, if given), by nonce, then oldest first."""

    def find(self, kind: str, ref: str) -> list[TxRecord]:
        """The records of the owner's ``kind`` and ``ref``, oldest first."""

    def hashes(self, tx_id: int) -> list[bytes]:
        """The hashes of the record's earlier versions (before its replacements)."""

    def replace(self, tx_id: int, tx_hash: bytes, raw: bytes, sent_at: float) -> TxRecord | None:
        """Make ``raw`` the record's latest version, keeping the earlier hash (either version
        may be mined); ``None`` if the record is no longer :attr:`TxState.SENT`."""

    def settle(self, tx_id: int, state: TxState) -> bool:
        """Move a :attr:`TxState.SENT` record to the final ``state``; ``False`` if it was not
        in :attr:`TxState.SENT` (another pass settled it)."""

    def forget(self, tx_id: int) -> None:
        """Delete a record that never left this process (its nonce is free again)."""


class InMemoryLedger:
    """A thread-safe, in-process :class:`Ledger`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[int, TxRecord] = {}
        self._hashes: dict[int, list[bytes]] = {}
        self._next_id = 1

    def add(self, record: TxRecord) -> TxRecord:
        with self._lock:
            stored = replace(record, id=self._next_id)
            self._next_id += 1
            self._records[stored.id] = stored
            return stored

    def get(self, tx_id: int) -> TxRecord | None:
        with self._lock:
            return self._records.get(tx_id)

    def records(self, sender: str, state: TxState | None = None) -> list[TxRecord]:
        with self._lock:
            found = [
                r
                for r in self._records.values()
                if r.sender == sender and (state is None or r.state is state)
            ]
        return sorted(found, key=lambda r: (r.nonce, r.id))

    def find(self, kind: str, ref: str) -> list[TxRecord]:
        with self._lock:
            return [r for r in self._records.values() if r.kind == kind and r.ref == ref]

    def hashes(self, tx_id: int) -> list[bytes]:
        with self._lock:
            return list(self._hashes.get(tx_id, []))

    def replace(self, tx_id: int, tx_hash: bytes, raw: bytes, sent_at: float) -> TxRecord | None:
        with self._lock:
            old = self._records.get(tx_id)
            if old is None or old.state is not TxState.SENT:
                return None
            earlier = self._hashes.setdefault(tx_id, [])
            if old.tx_hash not in earlier:
                earlier.append(old.tx_hash)
            new = replace(old, tx_hash=tx_hash, raw=raw, sent_at=sent_at)
            self._records[tx_id] = new
            return new

    def settle(self, tx_id: int, state: TxState) -> bool:
        with self._lock:
            old = self._records.get(tx_id)
            if old is None or old.state is not TxState.SENT:
                return False
            self._records[tx_id] = replace(old, state=state)
            return True

    def forget(self, tx_id: int) -> None:
        with self._lock:
            self._records.pop(tx_id, None)
            self._hashes.pop(tx_id, None)


_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
_COLUMNS = "id, sender, kind, ref, nonce, tx_hash, raw, sent_at, state"


class _SqlReads:
    """The reads both SQL ledgers share: their SQL is written with ``?`` for a parameter, which
    ``_MARK`` replaces with the driver's marker."""

    _MARK = "?"
    table: str
    hashes_table: str

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _select(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._rows(sql.replace("?", self._MARK), args)

    def get(self, tx_id: int) -> TxRecord | None:
        rows = self._select(f"SELECT {_COLUMNS} FROM {self.table} WHERE id = ?", (tx_id,))
        return _record(rows[0]) if rows else None

    def records(self, sender: str, state: TxState | None = None) -> list[TxRecord]:
        # Rows written before the sender was recorded (sender NULL) are of the file's one
        # account, whoever reads them.
        sql = f"SELECT {_COLUMNS} FROM {self.table} WHERE (sender = ? OR sender IS NULL)"
        args: tuple[Any, ...] = (sender,)
        if state is not None:
            sql += " AND state = ?"
            args += (state.value,)
        return [_record(row) for row in self._select(sql + " ORDER BY nonce, id", args)]

    def find(self, kind: str, ref: str) -> list[TxRecord]:
        rows = self._select(
            f"SELECT {_COLUMNS} FROM {self.table} WHERE kind = ? AND ref = ? ORDER BY id",
            (kind, ref),
        )
        return [_record(row) for row in rows]

    def hashes(self, tx_id: int) -> list[bytes]:
        rows = self._select(f"SELECT tx_hash FROM {self.hashes_table} WHERE tx_id = ?", (tx_id,))
        return [bytes(h) for (h,) in rows]


class SqliteLedger(_SqlReads, LocalDb):
    """A :class:`Ledger` in a SQLite file (WAL), safe to share between threads and processes.

    It may share the file of its owner's other tables (its own connection). ``table`` and
    ``hashes_table`` name its two tables, so that one file can hold the ledgers of several
    owners. A ``table`` written before records carried their sender and owner's ref (the
    oracle's ``txs``) is given the two columns; its rows keep their batch id or epoch as ref.
    """

    def __init__(self, path: Path, *, table: str = "txs", hashes_table: str = "tx_hashes") -> None:
        if not (_NAME.match(table) and _NAME.match(hashes_table)):
            raise ValueError(f"not a table name: {table!r} or {hashes_table!r}")
        self.table, self.hashes_table = table, hashes_table
        super().__init__(
            path,
            f"""
CREATE TABLE IF NOT EXISTS {table} (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT, kind TEXT NOT NULL,
    ref TEXT NOT NULL DEFAULT '', nonce INTEGER NOT NULL, tx_hash BLOB NOT NULL,
    raw BLOB NOT NULL, sent_at REAL NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {hashes_table} (
    tx_id INTEGER NOT NULL, tx_hash BLOB NOT NULL, PRIMARY KEY (tx_id, tx_hash));
""",
        )
        with self.transaction() as db:
            columns = {str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")}
            if "ref" not in columns:
                db.execute(f"ALTER TABLE {table} ADD COLUMN sender TEXT")
                db.execute(f"ALTER TABLE {table} ADD COLUMN ref TEXT NOT NULL DEFAULT ''")
                if "epoch" in columns:
                    db.execute(
                        f"UPDATE {table} SET ref = CAST(COALESCE(epoch, id) AS TEXT) WHERE ref = ''"
                    )
            db.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_by_state ON {table} (sender, state, nonce)"
            )
            db.execute(f"CREATE INDEX IF NOT EXISTS {table}_by_ref ON {table} (kind, ref)")

    def add(self, record: TxRecord) -> TxRecord:
        with self.transaction() as db:
            cur = db.execute(
                f"INSERT INTO {self.table} (sender, kind, ref, nonce, tx_hash, raw, sent_at, "
                "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _insert_args(record),
            )
            assert cur.lastrowid is not None
            return replace(record, id=int(cur.lastrowid))

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self.query(sql, args)

    def replace(self, tx_id: int, tx_hash: bytes, raw: bytes, sent_at: float) -> TxRecord | None:
        with self.transaction() as db:
            row = db.execute(
                f"SELECT tx_hash FROM {self.table} WHERE id = ? AND state = ?",
                (tx_id, TxState.SENT.value),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                f"INSERT OR IGNORE INTO {self.hashes_table} (tx_id, tx_hash) VALUES (?, ?)",
                (tx_id, bytes(row[0])),
            )
            db.execute(
                f"UPDATE {self.table} SET tx_hash = ?, raw = ?, sent_at = ? WHERE id = ?",
                (tx_hash, raw, sent_at, tx_id),
            )
            found = db.execute(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE id = ?", (tx_id,)
            ).fetchone()
        return _record(found)

    def settle(self, tx_id: int, state: TxState) -> bool:
        with self.transaction() as db:
            cur = db.execute(
                f"UPDATE {self.table} SET state = ? WHERE id = ? AND state = ?",
                (state.value, tx_id, TxState.SENT.value),
            )
            return cur.rowcount == 1

    def forget(self, tx_id: int) -> None:
        with self.transaction() as db:
            db.execute(f"DELETE FROM {self.hashes_table} WHERE tx_id = ?", (tx_id,))
            db.execute(f"DELETE FROM {self.table} WHERE id = ?", (tx_id,))


class PostgresLedger(_SqlReads):
    """A :class:`Ledger` in PostgreSQL, shared by every process (and host) using the database.

    ``engine`` is a writable SQLAlchemy engine (see :func:`depin.postgres.writable_engine`),
    or a URL for one this ledger owns. ``table`` and ``hashes_table`` name its two tables, as
    in :class:`SqliteLedger`; they are created if missing (under an advisory lock, so that
    processes starting together do not race on the catalog).
    """

    def __init__(
        self, engine: Engine | str, *, table: str = "txs", hashes_table: str = "tx_hashes"
    ) -> None:
        from depin.postgres import advisory_key, writable_engine

        if not (_NAME.match(table) and _NAME.match(hashes_table)):
            raise ValueError(f"not a table name: {table!r} or {hashes_table!r}")
        self.table, self.hashes_table = table, hashes_table
        self._owned = isinstance(engine, str)
        self.engine: Engine = writable_engine(engine) if isinstance(engine, str) else engine
        with self.engine.begin() as db:
            db.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(%s)", (advisory_key(f"depin.ledger.{table}"),)
            )
            db.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {table} (id BIGSERIAL PRIMARY KEY, sender TEXT, "
                "kind TEXT NOT NULL, ref TEXT NOT NULL DEFAULT '', nonce BIGINT NOT NULL, "
                "tx_hash BYTEA NOT NULL, raw BYTEA NOT NULL, sent_at DOUBLE PRECISION NOT NULL, "
                "state TEXT NOT NULL)"
            )
            db.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {hashes_table} (tx_id BIGINT NOT NULL, "
                "tx_hash BYTEA NOT NULL, PRIMARY KEY (tx_id, tx_hash))"
            )
            db.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS {table}_by_state ON {table} (sender, state, nonce)"
            )
            db.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {table}_by_ref ON {table} (kind, ref)")

    _MARK = "%s"

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self.engine.connect() as db:
            return [tuple(row) for row in db.exec_driver_sql(sql, args)]

    def add(self, record: TxRecord) -> TxRecord:
        with self.engine.begin() as db:
            tx_id = db.exec_driver_sql(
                f"INSERT INTO {self.table} (sender, kind, ref, nonce, tx_hash, raw, sent_at, "
                "state) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                _insert_args(record),
            ).scalar_one()
        return replace(record, id=int(tx_id))

    def replace(self, tx_id: int, tx_hash: bytes, raw: bytes, sent_at: float) -> TxRecord | None:
        with self.engine.begin() as db:
            row = db.exec_driver_sql(
                f"SELECT tx_hash FROM {self.table} WHERE id = %s AND state = %s FOR UPDATE",
                (tx_id, TxState.SENT.value),
            ).first()
            if row is None:
                return None
            db.exec_driver_sql(
                f"INSERT INTO {self.hashes_table} (tx_id, tx_hash) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                (tx_id, bytes(row[0])),
            )
            found = db.exec_driver_sql(
                f"UPDATE {self.table} SET tx_hash = %s, raw = %s, sent_at = %s WHERE id = %s "
                f"RETURNING {_COLUMNS}",
                (tx_hash, raw, sent_at, tx_id),
            ).one()
        return _record(tuple(found))

    def settle(self, tx_id: int, state: TxState) -> bool:
        with self.engine.begin() as db:
            return _settled(db, self.table, tx_id, state)

    def forget(self, tx_id: int) -> None:
        with self.engine.begin() as db:
            db.exec_driver_sql(f"DELETE FROM {self.hashes_table} WHERE tx_id = %s", (tx_id,))
            db.exec_driver_sql(f"DELETE FROM {self.table} WHERE id = %s", (tx_id,))

    def close(self) -> None:
        if self._owned:
            self.engine.dispose()


def _settled(db: Connection, table: str, tx_id: int, state: TxState) -> bool:
    result = db.exec_driver_sql(
        f"UPDATE {table} SET state = %s WHERE id = %s AND state = %s",
        (state.value, tx_id, TxState.SENT.value),
    )
    return int(result.rowcount) == 1


def _insert_args(record: TxRecord) -> tuple[Any, ...]:
    """``record``'s columns but its id, in the order the ledgers' ``INSERT`` names them."""
    return (
        record.sender,
        record.kind,
        record.ref,
        record.nonce,
        record.tx_hash,
        record.raw,
        record.sent_at,
        record.state.value,
    )


def _record(row: tuple[Any, ...]) -> TxRecord:
    tx_id, sender, kind, ref, nonce, tx_hash, raw, sent_at, state = row
    return TxRecord(
        id=int(tx_id),
        sender=str(sender or ""),
        kind=str(kind),
        ref=str(ref),
        nonce=int(nonce),
        tx_hash=bytes(tx_hash),
        raw=bytes(raw),
        sent_at=float(sent_at),
        state=TxState(state),
    )


@facts
class EstimateError(ChainError):
    """The transaction was not sent: estimating its gas failed (most often, the call would
    revert). ``cause`` is the error, translated to the contract's named error where possible."""

    code = "estimate_failed"
    template = "the transaction was not sent: {cause}"
    cause: Exception


class BroadcastError(ChainError):
    """The node did not take a signed transaction (which was then forgotten)."""

    code = "broadcast_failed"


OnSettled = Callable[[TxRecord, TxState, Any], None]
"""``on_settled(record, state, receipt)``: ``receipt`` is the mined version's, or ``None``."""


class TxSender:
    """Sends ``account``'s transactions through ``ledger`` and settles them.

    Args:
        w3: the chain.
        account: the signing account; every record of the ledger with its address is this
            sender's.
        ledger: where the signed transactions are kept.
        lock: held while a nonce is chosen and its transaction stored and broadcast, and
            while a reconcile pass runs: the caller's, when other processes send from the same
            account (the API's ``flock``), else a lock of this sender's own.
        resend_after_s: a transaction unmined this long is replaced with higher fees.
        max_fee: never bid more than this per gas (wei) when replacing; ``None``: no cap.
        on_settled: told each outcome (see the module's notes).
        should_cancel: asked, for a transaction to be replaced, whether its call would now
            only revert; then a 0-value transfer to the sender frees its nonce instead.
        after_persist: called with each new record once it is stored, before it is broadcast
            (a crash test stops the process there).
        gas_margin: gas added to 1.2 times the estimate.
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        ledger: Ledger,
        *,
        lock: AbstractContextManager[Any] | None = None,
        resend_after_s: float = 30.0,
        max_fee: int | None = None,
        on_settled: OnSettled | None = None,
        should_cancel: Callable[[TxRecord], bool] | None = None,
        after_persist: Callable[[TxRecord], None] | None = None,
        gas_margin: int = 50_000,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.ledger = ledger
        self.lock: AbstractContextManager[Any] = lock if lock is not None else threading.Lock()
        self.resend_after_s = resend_after_s
        self.max_fee = max_fee
        self.on_settled = on_settled
        self.should_cancel = should_cancel
        self.after_persist = after_persist
        self.gas_margin = gas_margin

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    # ------------------------------------------------------------------ sending

    def send(
        self,
        call: Any,
        *,
        kind: str,
        ref: str = "",
        gas_margin: int | None = None,
        forget_unsent: bool = False,
        once: bool = False,
    ) -> TxRecord:
        """Signs ``call`` (a contract function, or a dict with ``to``, ``value``, ``data``)
        with the next nonce, stores it, then broadcasts it; returns its record.

        With ``once``, a transaction of this sender's of the same ``kind`` and ``ref`` that is
        still :attr:`TxState.SENT` is returned instead, and nothing is sent: asking again for
        what is in flight never pays twice. (Under the lock, so concurrent askers agree.)

        Raises:
            EstimateError: the gas estimate failed (the call would revert); nothing is stored.
            BroadcastError: with ``forget_unsent``, the node refused the transaction (an
                RPC error); it is forgotten. A broadcast that got no answer (a lost reply, a
                node away past the retry budget) is kept and returned: the node may have taken
                it, and :meth:`reconcile` settles it. Without ``forget_unsent``, any failed
                broadcast is logged and left to :meth:`reconcile`.
        """
        with self.lock:
            if once:
                pending = [
                    r
                    for r in self.ledger.find(kind, ref)
                    if r.state is TxState.SENT and r.sender in (self.address, "")
                ]
                if pending:
                    log.info(
                        "%s %s already in flight as 0x%s", kind, ref, pending[-1].tx_hash.hex()
                    )
                    return pending[-1]
            tx = self._build(call, self.gas_margin if gas_margin is None else gas_margin)
            signed = self.account.sign_transaction(tx)
            record = self.ledger.add(
                TxRecord(
                    id=0,
                    sender=self.address,
                    kind=kind,
                    ref=ref,
                    nonce=int(tx["nonce"]),
                    tx_hash=bytes(signed.hash),
                    raw=bytes(signed.raw_transaction),
                    sent_at=time.time(),
                )
            )
            if self.after_persist is not None:
                self.after_persist(record)
            try:
                self.broadcast(record.raw)
            except Exception as exc:
                # Forget it only when the node answered no: after a lost reply or a node that
                # stayed away, the transaction may be in its pool (or mined), and only the
                # ledger lets :meth:`reconcile` find it and settle it once.
                if forget_unsent and _refused_by_node(exc):
                    self.ledger.forget(record.id)
                    raise BroadcastError(f"sending the transaction failed: {exc}") from exc
                log.warning("sending %s tx 0x%s failed: %s", kind, record.tx_hash.hex(), exc)
                return record
        log.info("sent %s tx 0x%s nonce %d", kind, record.tx_hash.hex(), record.nonce)
        return record

    def _build(self, call: Any, gas_margin: int) -> dict[str, Any]:
        sender = self.address
        try:
            if hasattr(call, "build_transaction"):
                estimate = call.estimate_gas({"from": sender})
            else:
                request: Any = {"from": sender, **call}
                estimate = self.w3.eth.estimate_gas(request)
        except Exception as exc:
            abi = getattr(call, "contract_abi", [])
            raise EstimateError(translate_error(abi, exc)) from None
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        tip = int(self.w3.eth.max_priority_fee)
        params: dict[str, Any] = {
            "from": sender,
            "nonce": self.next_nonce(),
            "gas": int(estimate * 1.2) + gas_margin,
            "maxFeePerGas": 2 * base + tip,
            "maxPriorityFeePerGas": tip,
            "chainId": int(self.w3.eth.chain_id),
        }
        if hasattr(call, "build_transaction"):
            return dict(call.build_transaction(params))
        return {"value": 0, "data": b"", **call, **params, "type": 2}

    def next_nonce(self) -> int:
        """The node's pending count, or past this ledger's unmined ones if the node lost some."""
        pending = int(self.w3.eth.get_transaction_count(self.address, "pending"))
        sent = self.ledger.records(self.address, TxState.SENT)
        return max([pending, *(r.nonce + 1 for r in sent)])

    def broadcast(self, raw: bytes) -> None:
        """Hands ``raw`` to the node; one it already has is no error."""
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:
            text = str(exc).lower()
            if "already known" in text or "already imported" in text:
                return
            raise

    # ------------------------------------------------------------------ reconciling

    def reconcile(self) -> None:
        """One pass over the unsettled transactions (see the module's notes). With nothing
        unsettled, the usual case, it takes no lock."""
        if not self.ledger.records(self.address, TxState.SENT):
            return
        with self.lock:
            sent = self.ledger.records(self.address, TxState.SENT)
            if not sent:
                return
            mined_count = int(self.w3.eth.get_transaction_count(self.address, "latest"))
            for record in sent:
                self._reconcile_one(record, mined_count)

    def _reconcile_one(self, record: TxRecord, mined_count: int) -> None:
        receipt = self._receipt(record)
        if receipt is not None:
            if receipt["to"] == self.address:
                state = TxState.CANCELLED
            else:
                state = TxState.MINED if int(receipt["status"]) == 1 else TxState.REVERTED
            self._settle(record, state, receipt)
            return
        if record.nonce < mined_count:
            self._settle(record, TxState.DROPPED, None)  # the nonce went elsewhere
            return
        if time.time() - record.sent_at > self.resend_after_s:
            # Unmined for too long: most likely bid below what blocks now take.
            self._replace(record)
            return
        if self._in_pool(record.tx_hash):
            return
        try:
            self.broadcast(record.raw)
        except Exception as exc:
            log.warning("re-sending 0x%s failed: %s", record.tx_hash.hex(), exc)
            text = str(exc).lower()
            if "underpriced" in text or "fee too low" in text:
                self._settle(record, TxState.REPLACED, None)

    def _settle(self, record: TxRecord, state: TxState, receipt: Any) -> None:
        if self.on_settled is not None:
            self.on_settled(record, state, receipt)
        self.ledger.settle(record.id, state)
        log.info("%s tx 0x%s nonce %d: %s", record.kind, record.tx_hash.hex(), record.nonce, state)

    def _receipt(self, record: TxRecord) -> Any:
        """The receipt of whichever of the transaction's versions was mined, if one was."""
        for candidate in [record.tx_hash, *self.ledger.hashes(record.id)]:
            with contextlib.suppress(TransactionNotFound):
                return self.w3.eth.get_transaction_receipt(HexBytes(candidate))
        return None

    def _in_pool(self, tx_hash: bytes) -> bool:
        try:
            self.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def _replace(self, record: TxRecord) -> None:
        """Re-signs the transaction at its nonce with higher fees, within ``max_fee``, or
        cancels it; the earlier hash stays known, since either version may be mined."""
        cancel = self.should_cancel is not None and self.should_cancel(record)
        tx = replacement(self.w3, record.raw, max_fee=self.max_fee, cancel=cancel)
        if tx is None:
            log.warning(
                "tx 0x%s unmined; replacing it would bid above the cap of %s wei",
                record.tx_hash.hex(),
                self.max_fee,
            )
            return
        signed = self.account.sign_transaction(tx)
        new = self.ledger.replace(
            record.id, bytes(signed.hash), bytes(signed.raw_transaction), time.time()
        )
        if new is None:
            return
        log.warning(
            "tx 0x%s nonce %d unmined: %s by 0x%s at %.2f gwei",
            record.tx_hash.hex(),
            record.nonce,
            "cancelled" if cancel else "replaced",
            new.tx_hash.hex(),
            tx["maxFeePerGas"] / 1e9,
        )
        try:
            self.broadcast(new.raw)
        except Exception as exc:  # the next pass tries again
            log.warning("sending the replacement 0x%s failed: %s", new.tx_hash.hex(), exc)


def would_revert(w3: Web3, raw: bytes) -> bool:
    """Whether the signed call ``raw`` would revert if it ran in the latest block."""
    old = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    sender = Account.recover_transaction(raw)
    try:
        w3.eth.call(
            {
                "from": sender,
                "to": Web3.to_checksum_address(old["to"]),
                "data": HexBytes(old["data"]),
            }
        )
    except ContractLogicError:
        return True
    return False
