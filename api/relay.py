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

from eth_utils import to_checksum_address

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
from api.shared import State
from depin.eip712 import Domain, Message, domain_difference, parse_typed_data, recover
from depin.errors import ChainError, ContractRevertError, SignatureError
from depin.messages import REGISTRY_MESSAGES
from depin.txsender import BroadcastError, EstimateError, TxSender, TxState, would_revert

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
    """The domain and message from full typed data, or from a bare message (this registry).

    Both forms together are accepted only when they agree (the same primary type, the same
    message); every field is parsed strictly (see :func:`depin.eip712.parse_typed_data`), so a
    malformed one is refused here, naming it, and never reaches the encoder.
    """
    try:
        bare: Message | None = None
        if primary_type is not None or message is not None:
            if primary_type is None or message is None:
                raise ValidationProblem(
                    "primary_type and message: give both, or typed_data alone", field="message"
                )
            kind = REGISTRY_MESSAGES.get(primary_type)
            if kind is None:
                raise ValidationProblem(
                    f"primary_type: unknown {primary_type!r}; one of {sorted(REGISTRY_MESSAGES)}",
                    field="primary_type",
                )
            bare = kind.from_message_json(message)
        if typed_data is None:
            if bare is None:
                raise ValidationProblem("give either typed_data, or primary_type and message")
            return chain.registry.domain, bare
        domain, typed = parse_typed_data(typed_data, REGISTRY_MESSAGES)
        if bare is not None and bare != typed:
            field = "primary_type" if type(bare) is not type(typed) else "message"
            raise ValidationProblem(
                f"{field}: typed_data and primary_type/message disagree; send one form, or "
                "both saying the same",
                field=field,
            )
        return domain, typed
    except SignatureError as exc:
        raise ValidationProblem(str(exc.message)) from None
    except ValueError as exc:
        raise ValidationProblem(str(exc)) from None


def check(chain: ChainContext, domain: Domain, message: Message, signature: bytes) -> None:
    """Every check that needs no transaction; raises the refusal's :class:`ApiError`."""
    ours = chain.registry.domain
    difference = domain_difference(domain, ours)
    if difference is not None:
        field, theirs, expected = difference
        raise WrongDomainError(
            f"domain.{field} is {theirs!r}, not this registry's {expected!r} (the typed data "
            f"is for {domain.name} {domain.version} at {domain.verifying_contract} on chain "
            f"{domain.chain_id})",
            field=field,
            expected=expected,
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


RELAY = "relay"
"""The kind of the relayer's transactions in its ledger."""


def submit(chain: ChainContext, message: Message, signature: bytes, ledger: RelayLedger) -> Relayed:
    """Dry-runs the ``...WithSig`` call from the relayer, then sends it; returns its hash. The
    signed transaction is in the ledger before it leaves, so :func:`follow` can see it land
    or replace it.

    Idempotent by the message's digest (the ledger record's ``ref``): while a transaction
    for the same signed message is in flight (neither mined nor settled as failed), asking
    again, on any host, answers its hash and sends nothing."""
    call = chain.registry.with_sig_call(message, signature)
    ref = "0x" + message.digest(chain.registry.domain).hex()
    try:
        record = ledger.sender(chain).send(
            call, kind=RELAY, ref=ref, gas_margin=10_000, forget_unsent=True, once=True
        )
    except EstimateError as exc:
        error = exc.cause
        if isinstance(error, ContractRevertError):
            kind = _REVERTS.get(error.error_name, ContractRefusedError)
            raise kind(
                f"the registry refuses it: {error.message}",
                contract_error=error.error_name,
            ) from None
        raise ServiceUnavailableError(f"the chain did not answer: {error}") from None
    except BroadcastError as exc:
        raise ServiceUnavailableError(str(exc.message)) from None
    except ChainError as exc:
        raise ServiceUnavailableError(f"the chain did not answer: {exc.message}") from None
    except Exception as exc:
        raise ServiceUnavailableError(f"the chain did not answer: {exc}") from None
    return Relayed("0x" + record.tx_hash.hex(), message, chain.relayer.address)


class RelayLedger:
    """The relayer's sent transactions (a :class:`depin.txsender.Ledger` in the state the
    API's processes share), and the senders that use it."""

    def __init__(self, state: State) -> None:
        self.ledger = state.relay_ledger()

    def sender(
        self, chain: ChainContext, *, resend_after_s: float = 60.0, max_fee: int | None = None
    ) -> TxSender:
        """The relayer's sender, under the chain's send lock (which every worker honours)."""
        w3 = chain.w3
        return TxSender(
            w3,
            chain.relayer,
            self.ledger,
            lock=chain.send_lock,
            resend_after_s=resend_after_s,
            max_fee=max_fee,
            should_cancel=lambda record: would_revert(w3, record.raw),
        )

    def close(self) -> None:
        self.ledger.close()

    def sent(self, relayer: str) -> list[tuple[int, bytes, bytes, float]]:
        """(nonce, hash, raw, sent at) of each transaction not yet settled."""
        return [
            (r.nonce, r.tx_hash, r.raw, r.sent_at)
            for r in self.ledger.records(relayer, TxState.SENT)
        ]

    def hashes(self, relayer: str, nonce: int) -> list[bytes]:
        """The earlier hashes of the relayer's latest transaction at ``nonce``."""
        at = [r for r in self.ledger.records(relayer) if r.nonce == nonce]
        return self.ledger.hashes(at[-1].id) if at else []

    def states(self, relayer: str) -> dict[int, TxState]:
        """The state of the relayer's latest transaction at each nonce."""
        return {r.nonce: r.state for r in self.ledger.records(relayer)}


def follow(
    chain: ChainContext, ledger: RelayLedger, *, resend_after_s: float, max_fee: int | None
) -> None:
    """One pass over the relayer's unmined transactions: a mined one is settled; one unmined
    for ``resend_after_s`` is replaced at its nonce with higher fees, or, if its call would now
    revert (its signature expired, the provider acted meanwhile), by a 0-value transfer that
    frees the nonce, so that the relayer's later transactions do not wait behind it. With
    nothing pending, the usual case, no lock is taken."""
    ledger.sender(chain, resend_after_s=resend_after_s, max_fee=max_fee).reconcile()
