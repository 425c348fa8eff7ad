"""Checks a provider's signed registry message before any gas is spent, then relays it.

The order of checks is cheapest first: shape, domain, deadline, nonce, signature (local
recovery for an EOA, an ``isValidSignature`` eth_call for a contract wallet), then a gas
estimate of the exact ``...WithSig`` call from the relayer, which runs the contract's own checks.
Only then is a transaction signed and sent.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from api.auth import is_valid_erc1271
from api.chain import ChainContext
from api.errors import (
    ApiError,
    ContractRefusedError,
    ExpiredDeadlineError,
    InvalidNonceError,
    InvalidSignatureError,
    NonceUsedError,
    ServiceUnavailableError,
    ValidationProblem,
    WrongDomainError,
)
from api.shared import SharedState
from depin.chain import replacement, translate_error
from depin.eip712 import Domain, Message, parse_typed_data, recover
from depin.errors import ContractRevertError, SignatureError
from depin.messages import REGISTRY_MESSAGES

log = logging.getLogger("depin.api.relay")


@dataclass(frozen=True)
class Relayed:
    tx_hash: str
    message: Message
    relayer: str


def parse(
    chain: ChainContext,
    typed_data: dict[str, Any] | None,
    primary_type: str | None,
    message: dict[str, Any] | None,
) -> tuple[Domain, Message]:
    """The domain and message from full typed data, or from a bare message (this registry)."""
    try:
        if typed_data is not None:
            return parse_typed_data(typed_data, REGISTRY_MESSAGES)
        if primary_type is None or message is None:
            raise ValidationProblem("give either typed_data, or primary_type and message")
        kind = REGISTRY_MESSAGES.get(primary_type)
        if kind is None:
            raise ValidationProblem(
                f"unknown primary_type {primary_type!r}; one of {sorted(REGISTRY_MESSAGES)}"
            )
        return chain.registry.domain, kind.from_message_json(message)
    except SignatureError as exc:
        raise ValidationProblem(str(exc.message)) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise ValidationProblem(f"malformed message: {exc}") from None


def check(chain: ChainContext, domain: Domain, message: Message, signature: bytes) -> None:
    """Every check that needs no transaction; raises the refusal's :class:`ApiError`."""
    ours = chain.registry.domain
    if domain != ours:
        raise WrongDomainError(
            f"the typed data is for {domain.name} {domain.version} at {domain.verifying_contract} "
            f"on chain {domain.chain_id}, not this registry ({ours.verifying_contract} on chain "
            f"{ours.chain_id})"
        )
    deadline = int(getattr(message, "deadline"))  # noqa: B009 - every registry message has one
    if deadline < int(time.time()):
        raise ExpiredDeadlineError(f"the deadline {deadline} has passed", deadline=deadline)
    provider = str(getattr(message, "provider"))  # noqa: B009
    nonce = int(getattr(message, "nonce"))  # noqa: B009
    current = chain.registry.nonce(provider)
    if nonce < current:
        raise NonceUsedError(
            f"nonce {nonce} of {provider} was already used; the current nonce is {current}",
            current_nonce=current,
        )
    if nonce > current:
        raise InvalidNonceError(
            f"nonce {nonce} is ahead of {provider}'s current nonce {current}",
            current_nonce=current,
        )
    digest = message.digest(ours)
    if chain.w3.eth.get_code(to_checksum_address(provider)):
        if not is_valid_erc1271(chain.w3, provider, digest, signature):
            raise InvalidSignatureError(
                f"the contract wallet {provider} does not accept this signature (ERC-1271)"
            )
        return
    try:
        signer = recover(digest, signature)
    except SignatureError as exc:
        raise InvalidSignatureError(str(exc.message)) from None
    if signer != provider:
        raise InvalidSignatureError(f"the signature is by {signer}, not the provider {provider}")


_REVERTS: dict[str, type[ApiError]] = {
    "ProviderRegistryExpiredSignature": ExpiredDeadlineError,
    "ProviderRegistryInvalidSignature": InvalidSignatureError,
    "InvalidAccountNonce": NonceUsedError,
}


def submit(chain: ChainContext, message: Message, signature: bytes, ledger: RelayLedger) -> Relayed:
    """Dry-runs the ``...WithSig`` call from the relayer, then sends it; returns its hash. The
    signed transaction is in the ledger before it leaves, so :func:`follow` can see it land
    or replace it."""
    call = chain.registry.with_sig_call(message, signature)
    relayer = chain.relayer
    w3 = chain.w3
    with chain.send_lock:
        try:
            gas = int(call.estimate_gas({"from": relayer.address}) * 1.2) + 10_000
            pending = w3.eth.get_transaction_count(relayer.address, "pending")
            tx = call.build_transaction(
                {
                    "from": relayer.address,
                    "nonce": ledger.next_nonce(relayer.address, pending),
                    "gas": gas,
                    "chainId": chain.chain_id,
                }
            )
        except Exception as exc:
            error = translate_error(call.contract_abi, exc)
            if isinstance(error, ContractRevertError):
                kind = _REVERTS.get(error.error_name, ContractRefusedError)
                raise kind(
                    f"the registry refuses it: {error.message}",
                    contract_error=error.error_name,
                ) from None
            raise ServiceUnavailableError(f"the chain did not answer: {error}") from None
        signed = relayer.sign_transaction(tx)
        ledger.record(relayer.address, int(tx["nonce"]), bytes(signed.hash), signed.raw_transaction)
        try:
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as exc:
            ledger.forget(relayer.address, int(tx["nonce"]))
            raise ServiceUnavailableError(f"sending the transaction failed: {exc}") from None
    return Relayed("0x" + bytes(tx_hash).hex(), message, relayer.address)


class RelayLedger:
    """The relayer's sent transactions, in the state the API's workers share."""

    def __init__(self, state: SharedState) -> None:
        self.state = state

    def next_nonce(self, relayer: str, pending: int) -> int:
        """The node's pending count, or past our own unmined ones if the node lost some."""
        rows = self.state.query(
            "SELECT MAX(nonce) FROM relayed_txs WHERE relayer = ? AND state = 'sent'", (relayer,)
        )
        local = rows[0][0]
        return max(pending, int(local) + 1) if local is not None else pending

    def record(self, relayer: str, nonce: int, tx_hash: bytes, raw: bytes) -> None:
        with self.state.transaction() as db:
            db.execute(
                "DELETE FROM relayed_hashes WHERE relayer = ? AND nonce = ?", (relayer, nonce)
            )
            db.execute(
                "INSERT OR REPLACE INTO relayed_txs (relayer, nonce, tx_hash, raw, sent_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (relayer, nonce, tx_hash, raw, time.time()),
            )

    def forget(self, relayer: str, nonce: int) -> None:
        with self.state.transaction() as db:
            db.execute("DELETE FROM relayed_txs WHERE relayer = ? AND nonce = ?", (relayer, nonce))

    def sent(self, relayer: str) -> list[tuple[int, bytes, bytes, float]]:
        """(nonce, hash, raw, sent at) of each transaction not yet seen mined."""
        rows = self.state.query(
            "SELECT nonce, tx_hash, raw, sent_at FROM relayed_txs "
            "WHERE relayer = ? AND state = 'sent' ORDER BY nonce",
            (relayer,),
        )
        return [(int(n), bytes(h), bytes(r), float(t)) for n, h, r, t in rows]

    def hashes(self, relayer: str, nonce: int) -> list[bytes]:
        rows = self.state.query(
            "SELECT tx_hash FROM relayed_hashes WHERE relayer = ? AND nonce = ?", (relayer, nonce)
        )
        return [bytes(h) for (h,) in rows]

    def replaced(self, relayer: str, nonce: int, old: bytes, new: bytes, raw: bytes) -> None:
        with self.state.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO relayed_hashes VALUES (?, ?, ?)", (relayer, nonce, old)
            )
            db.execute(
                "UPDATE relayed_txs SET tx_hash = ?, raw = ?, sent_at = ? "
                "WHERE relayer = ? AND nonce = ?",
                (new, raw, time.time(), relayer, nonce),
            )

    def settle(self, relayer: str, nonce: int, state: str) -> None:
        with self.state.transaction() as db:
            db.execute(
                "UPDATE relayed_txs SET state = ? WHERE relayer = ? AND nonce = ?",
                (state, relayer, nonce),
            )

    def states(self, relayer: str) -> dict[int, str]:
        rows = self.state.query(
            "SELECT nonce, state FROM relayed_txs WHERE relayer = ?", (relayer,)
        )
        return {int(n): str(s) for n, s in rows}


def follow(
    chain: ChainContext, ledger: RelayLedger, *, resend_after_s: float, max_fee: int | None
) -> None:
    """One pass over the relayer's unmined transactions: a mined one is settled; one unmined
    for ``resend_after_s`` is replaced at its nonce with higher fees, or, if its call would now
    revert (its signature expired, the provider acted meanwhile), by a 0-value transfer that
    frees the nonce, so that the relayer's later transactions do not wait behind it."""
    relayer, w3 = chain.relayer, chain.w3
    if not ledger.sent(relayer.address):
        return  # the usual case: nothing pending, no lock taken
    with chain.send_lock:
        sent = ledger.sent(relayer.address)
        mined_count = int(w3.eth.get_transaction_count(relayer.address, "latest"))
        for nonce, tx_hash, raw, sent_at in sent:
            receipt = _receipt(w3, [tx_hash, *ledger.hashes(relayer.address, nonce)])
            if receipt is not None:
                cancelled = receipt["to"] == relayer.address
                state = "cancelled" if cancelled else "mined" if receipt["status"] else "reverted"
                ledger.settle(relayer.address, nonce, state)
                continue
            if nonce < mined_count:
                ledger.settle(relayer.address, nonce, "dropped")  # the nonce went elsewhere
                continue
            if time.time() - sent_at <= resend_after_s:
                continue
            tx = replacement(w3, raw, max_fee=max_fee, cancel=_would_revert(w3, raw))
            if tx is None:
                log.warning(
                    "relayed tx 0x%s unmined; a replacement would pass the fee cap", tx_hash.hex()
                )
                continue
            signed = relayer.sign_transaction(tx)
            ledger.replaced(
                relayer.address, nonce, tx_hash, bytes(signed.hash), signed.raw_transaction
            )
            log.warning(
                "relayed tx 0x%s (nonce %d) unmined: %s by 0x%s",
                tx_hash.hex(),
                nonce,
                "cancelled" if tx["to"] == relayer.address and not tx.get("data") else "replaced",
                bytes(signed.hash).hex(),
            )
            try:
                w3.eth.send_raw_transaction(signed.raw_transaction)
            except Exception as exc:  # the next pass tries again
                log.warning("sending 0x%s failed: %s", bytes(signed.hash).hex(), exc)


def _receipt(w3: Web3, hashes: list[bytes]) -> Any:
    for candidate in hashes:
        try:
            return w3.eth.get_transaction_receipt(HexBytes(candidate))
        except TransactionNotFound:
            continue
    return None


def _would_revert(w3: Web3, raw: bytes) -> bool:
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
