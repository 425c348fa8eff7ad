"""A typed client of the ProviderRegistry contract on web3.py."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from depin import artifacts
from depin.chain import transact
from depin.eip712 import Domain, Message
from depin.messages import (
    AgentAuthorization,
    AgentRevocation,
    Deregistration,
    ProfileUpdate,
    Registration,
)

CONTRACT_NAME = "ProviderRegistry"
DEFAULT_SIGNATURE_TTL = 3600


class Status(IntEnum):
    NONE = 0
    ACTIVE = 1
    DEREGISTERED = 2


@dataclass(frozen=True)
class Profile:
    """What a provider publishes about itself (strings live in events only)."""

    name: str
    region: str = ""
    endpoint: str = ""
    metadata_uri: str = ""
    metadata_hash: bytes = bytes(32)

    def as_tuple(self) -> tuple[str, str, str, str, bytes]:
        return (self.name, self.region, self.endpoint, self.metadata_uri, self.metadata_hash)


@dataclass(frozen=True)
class ProviderRecord:
    status: Status
    registered_at: int
    deregistered_at: int


class RegistryClient:
    """Reads and writes the registry; builds the typed data providers sign."""

    def __init__(self, w3: Web3, address: str) -> None:
        self.w3 = w3
        self.address = to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(
            address=self.address, abi=artifacts.abi(CONTRACT_NAME)
        )

    # ------------------------------------------------------------------ reads

    @cached_property
    def domain(self) -> Domain:
        """The EIP-712 domain, read from the live contract (EIP-5267), never a constant."""
        return Domain.from_eip5267(self.contract.functions.eip712Domain().call())

    def nonce(self, provider: str) -> int:
        return int(self.contract.functions.nonces(to_checksum_address(provider)).call())

    def record(self, provider: str) -> ProviderRecord:
        status, registered_at, deregistered_at = self.contract.functions.providerRecord(
            to_checksum_address(provider)
        ).call()
        return ProviderRecord(Status(status), int(registered_at), int(deregistered_at))

    def is_authorized_agent(self, provider: str, agent: str) -> bool:
        return bool(
            self.contract.functions.isAuthorizedAgent(
                to_checksum_address(provider), to_checksum_address(agent)
            ).call()
        )

    def agent_expiry(self, provider: str, agent: str) -> int:
        return int(
            self.contract.functions.agentExpiry(
                to_checksum_address(provider), to_checksum_address(agent)
            ).call()
        )

    def agents(self, provider: str, from_block: int = 0) -> dict[str, int]:
        """Agents currently authorized (or expired but not revoked) by ``provider``, with expiry,
        replayed from the contract's events."""
        provider = to_checksum_address(provider)
        logs: list[tuple[int, int, str, Any]] = []
        for event in (self.contract.events.AgentAuthorized, self.contract.events.AgentRevoked):
            for log in event.get_logs(
                from_block=from_block, argument_filters={"provider": provider}
            ):
                logs.append((log["blockNumber"], log["logIndex"], log["event"], log["args"]))
        current: dict[str, int] = {}
        for _, _, name, args in sorted(logs, key=lambda item: (item[0], item[1])):
            if name == "AgentAuthorized":
                current[args["agent"]] = int(args["expiresAt"])
            else:
                current.pop(args["agent"], None)
        return current

    def profile(self, provider: str, from_block: int = 0) -> dict[str, Any] | None:
        """The provider's latest profile, from its ProviderRegistered/ProviderUpdated events."""
        provider = to_checksum_address(provider)
        latest: tuple[int, int, dict[str, Any]] | None = None
        for event in (
            self.contract.events.ProviderRegistered,
            self.contract.events.ProviderUpdated,
        ):
            for log in event.get_logs(
                from_block=from_block, argument_filters={"provider": provider}
            ):
                key = (log["blockNumber"], log["logIndex"], dict(log["args"]))
                if latest is None or key[:2] > latest[:2]:
                    latest = key
        return latest[2] if latest else None

    # ------------------------------------------------------------------ typed data

    def _deadline(self, ttl: int) -> int:
        return int(time.time()) + ttl

    def registration(
        self, provider: str, profile: Profile, *, ttl: int = DEFAULT_SIGNATURE_TTL
    ) -> Registration:
        return Registration(*self._profile_fields(provider, profile, ttl))

    def profile_update(
        self, provider: str, profile: Profile, *, ttl: int = DEFAULT_SIGNATURE_TTL
    ) -> ProfileUpdate:
        return ProfileUpdate(*self._profile_fields(provider, profile, ttl))

    def _profile_fields(self, provider: str, profile: Profile, ttl: int) -> tuple[Any, ...]:
        """The fields of a profile message: provider, profile, current nonce, deadline."""
        address = to_checksum_address(provider)
        return (address, *profile.as_tuple(), self.nonce(address), self._deadline(ttl))

    def agent_authorization(
        self, provider: str, agent: str, expires_at: int, *, ttl: int = DEFAULT_SIGNATURE_TTL
    ) -> AgentAuthorization:
        return AgentAuthorization(
            to_checksum_address(provider),
            to_checksum_address(agent),
            expires_at,
            self.nonce(provider),
            self._deadline(ttl),
        )

    def agent_revocation(
        self, provider: str, agent: str, *, ttl: int = DEFAULT_SIGNATURE_TTL
    ) -> AgentRevocation:
        return AgentRevocation(
            to_checksum_address(provider),
            to_checksum_address(agent),
            self.nonce(provider),
            self._deadline(ttl),
        )

    def deregistration(self, provider: str, *, ttl: int = DEFAULT_SIGNATURE_TTL) -> Deregistration:
        return Deregistration(
            to_checksum_address(provider), self.nonce(provider), self._deadline(ttl)
        )

    # ------------------------------------------------------------------ writes by transaction

    def register(self, account: LocalAccount, profile: Profile) -> TxReceipt:
        return transact(self.w3, account, self.contract.functions.register(profile.as_tuple()))

    def update_profile(self, account: LocalAccount, profile: Profile) -> TxReceipt:
        return transact(self.w3, account, self.contract.functions.updateProfile(profile.as_tuple()))

    def authorize_agent(self, account: LocalAccount, agent: str, expires_at: int) -> TxReceipt:
        return transact(
            self.w3,
            account,
            self.contract.functions.authorizeAgent(to_checksum_address(agent), expires_at),
        )

    def revoke_agent(self, account: LocalAccount, agent: str) -> TxReceipt:
        return transact(
            self.w3, account, self.contract.functions.revokeAgent(to_checksum_address(agent))
        )

    def deregister(self, account: LocalAccount) -> TxReceipt:
        return transact(self.w3, account, self.contract.functions.deregister())

    # ------------------------------------------------------------------ writes by signature

    def with_sig_call(self, message: Message, signature: bytes) -> Any:
        """The ``...WithSig`` contract call that carries ``message`` and its signature."""
        f = self.contract.functions
        if isinstance(message, Registration | ProfileUpdate):
            profile = (
                message.name,
                message.region,
                message.endpoint,
                message.metadata_uri,
                message.metadata_hash,
            )
            fn = f.registerWithSig if isinstance(message, Registration) else f.updateProfileWithSig
            return fn(message.provider, profile, message.nonce, message.deadline, signature)
        if isinstance(message, AgentAuthorization):
            return f.authorizeAgentWithSig(
                message.provider,
                message.agent,
                message.expires_at,
                message.nonce,
                message.deadline,
                signature,
            )
        if isinstance(message, AgentRevocation):
            return f.revokeAgentWithSig(
                message.provider, message.agent, message.nonce, message.deadline, signature
            )
        if isinstance(message, Deregistration):
            return f.deregisterWithSig(message.provider, message.nonce, message.deadline, signature)
        raise TypeError(f"not a registry message: {type(message).__name__}")

    def submit_signed(self, relayer: LocalAccount, message: Message, signature: bytes) -> TxReceipt:
        """Relays a provider's signed ``message`` from ``relayer`` (who pays the gas)."""
        return transact(self.w3, relayer, self.with_sig_call(message, signature))
