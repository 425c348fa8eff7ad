"""Schemas of the typed-data and relay routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Address, Bytes32, ExpiresAt, Hex, Strict, Ttl, Uint256

_PROVIDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
_AGENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
_REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

TYPED_DATA_EXAMPLE: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "AgentRevocation": [
            {"name": "provider", "type": "address"},
            {"name": "agent", "type": "address"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ],
    },
    "primaryType": "AgentRevocation",
    "domain": {
        "name": "DePIN ProviderRegistry",
        "version": "1",
        "chainId": 31337,
        "verifyingContract": _REGISTRY,
    },
    "message": {"provider": _PROVIDER, "agent": _AGENT, "nonce": 0, "deadline": 1767225600},
}


class TypedField(Strict):
    name: str = Field(max_length=64)
    type: str = Field(max_length=64)


class TypedDomain(Strict):
    name: str = Field(max_length=256)
    version: str = Field(max_length=64)
    chainId: Uint256
    verifyingContract: Address


class TypedData(Strict):
    """``eth_signTypedData_v4`` JSON. ``message`` is checked field by field against the
    primary type (unknown fields refused, integers as JSON integers or decimal or 0x-hex
    strings within their width, every bytesN of N bytes)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [TYPED_DATA_EXAMPLE]})

    types: dict[str, list[TypedField]]
    primaryType: str = Field(max_length=64)
    domain: TypedDomain
    message: dict[str, Any]


class ProfileRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "provider": _PROVIDER,
                    "name": "Acme GPU",
                    "region": "eu-west",
                    "endpoint": "https://gpu.acme.example",
                    "metadata_uri": "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
                    "metadata_hash": "0x" + "00" * 32,
                }
            ]
        },
    )

    provider: Address
    name: str = Field(min_length=1, max_length=64, description="1-64 bytes of UTF-8")
    region: str = Field(default="", max_length=32)
    endpoint: str = Field(default="", max_length=256)
    metadata_uri: str = Field(default="", max_length=256)
    metadata_hash: Bytes32 = "0x" + "00" * 32
    ttl: Ttl | None = None


class AgentAuthorizationRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"provider": _PROVIDER, "agent": _AGENT, "expires_at": 1769904000}]
        },
    )

    provider: Address
    agent: Address
    expires_at: ExpiresAt
    ttl: Ttl | None = None


class AgentRevocationRequest(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"provider": _PROVIDER, "agent": _AGENT}]}
    )

    provider: Address
    agent: Address
    ttl: Ttl | None = None


class DeregistrationRequest(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"provider": _PROVIDER}]}
    )

    provider: Address
    ttl: Ttl | None = None


class TypedDataResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "typed_data": TYPED_DATA_EXAMPLE,
                    "digest": "0x" + "ab" * 32,
                    "nonce": 0,
                    "deadline": 1767225600,
                    "as_of_block": 42,
                }
            ]
        }
    )

    typed_data: TypedData = Field(description="sign exactly this with eth_signTypedData_v4")
    digest: Bytes32 = Field(description="the EIP-712 digest the signature covers")
    nonce: int
    deadline: int
    as_of_block: int = Field(ge=0, description="the block whose nonce the message carries")


class RelayRequest(Strict):
    """Either ``typed_data``, or ``primary_type`` and ``message`` (the registry's domain is
    then implied); both forms together only when they say the same."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"typed_data": TYPED_DATA_EXAMPLE, "signature": "0x" + "11" * 65},
                {
                    "primary_type": "AgentRevocation",
                    "message": TYPED_DATA_EXAMPLE["message"],
                    "signature": "0x" + "11" * 65,
                },
            ]
        },
    )

    typed_data: TypedData | None = Field(
        default=None, description="the typed data as returned by a /v1/typed-data route"
    )
    primary_type: str | None = Field(
        default=None, max_length=64, description="with `message`, instead of typed_data"
    )
    message: dict[str, Any] | None = None
    signature: Hex


class RelayResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tx_hash": "0x" + "cd" * 32,
                    "primary_type": "Registration",
                    "provider": _PROVIDER,
                    "nonce": 0,
                    "relayer": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
                }
            ]
        }
    )

    tx_hash: Bytes32
    primary_type: str
    provider: Address
    nonce: int
    relayer: Address
