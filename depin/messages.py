"""The protocol's EIP-712 message types, defined once for signers and verifiers.

Each type string is the one the contract declares beside its typehash constant; a test checks
that they match the deployed contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from depin.eip712 import Message

_PROFILE_FIELDS: tuple[tuple[str, str], ...] = (
    ("provider", "address"),
    ("name", "string"),
    ("region", "string"),
    ("endpoint", "string"),
    ("metadataURI", "string"),
    ("metadataHash", "bytes32"),
    ("nonce", "uint256"),
    ("deadline", "uint256"),
)


@dataclass(frozen=True)
class _ProfileMessage(Message):
    """The fields both profile messages carry."""

    provider: str
    name: str
    region: str
    endpoint: str
    metadata_uri: str
    metadata_hash: bytes
    nonce: int
    deadline: int


@dataclass(frozen=True)
class Registration(_ProfileMessage):
    """A provider's consent to be registered with this profile (``registerWithSig``)."""

    PRIMARY_TYPE = "Registration"
    FIELDS = _PROFILE_FIELDS


@dataclass(frozen=True)
class ProfileUpdate(_ProfileMessage):
    """A provider's new profile (``updateProfileWithSig``)."""

    PRIMARY_TYPE = "ProfileUpdate"
    FIELDS = _PROFILE_FIELDS


@dataclass(frozen=True)
class AgentAuthorization(Message):
    """A provider authorizes an agent key until ``expires_at`` (``authorizeAgentWithSig``)."""

    PRIMARY_TYPE = "AgentAuthorization"
    FIELDS = (
        ("provider", "address"),
        ("agent", "address"),
        ("expiresAt", "uint64"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    )

    provider: str
    agent: str
    expires_at: int
    nonce: int
    deadline: int


@dataclass(frozen=True)
class AgentRevocation(Message):
    """A provider revokes an agent key (``revokeAgentWithSig``)."""

    PRIMARY_TYPE = "AgentRevocation"
    FIELDS = (
        ("provider", "address"),
        ("agent", "address"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    )

    provider: str
    agent: str
    nonce: int
    deadline: int


@dataclass(frozen=True)
class Deregistration(Message):
    """A provider leaves the registry for good (``deregisterWithSig``)."""

    PRIMARY_TYPE = "Deregistration"
    FIELDS = (("provider", "address"), ("nonce", "uint256"), ("deadline", "uint256"))

    provider: str
    nonce: int
    deadline: int


REGISTRY_MESSAGES: dict[str, type[Message]] = {
    m.PRIMARY_TYPE: m
    for m in (Registration, ProfileUpdate, AgentAuthorization, AgentRevocation, Deregistration)
}
