"""Checks a provider's signed registry message before any gas is spent, then relays it.

The order of checks is cheapest first: shape, domain, deadline, nonce, signature (local
recovery for an EOA, an ``isValidSignature`` eth_call for a contract wallet), then a gas
estimate of the exact ``...WithSig`` call from the relayer, which runs the contract's own checks.
Only then is a transaction signed and sent.
"""

from __future__ import annotations

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
from depin.chain import translate_error
from depin.eip712 import Domain, Message, parse_typed_data, recover
from depin.errors import ContractRevertError, SignatureError
from depin.messages import REGISTRY_MESSAGES


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


def submit(chain: ChainContext, message: Message, signature: bytes) -> Relayed:
    """Dry-runs the ``...WithSig`` call from the relayer, then sends it; returns its hash."""
    call = chain.registry.with_sig_call(message, signature)
    relayer = chain.relayer
    w3 = chain.w3
    with chain.send_lock:
        try:
            gas = int(call.estimate_gas({"from": relayer.address}) * 1.2) + 10_000
            tx = call.build_transaction(
                {
                    "from": relayer.address,
                    "nonce": w3.eth.get_transaction_count(relayer.address, "pending"),
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
        try:
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as exc:
            raise ServiceUnavailableError(f"sending the transaction failed: {exc}") from None
    return Relayed("0x" + bytes(tx_hash).hex(), message, relayer.address)
