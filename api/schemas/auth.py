"""Sign-In with Ethereum schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Address


class NonceResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "nonce": "kXq3bR5mY1d8Qw2z",
                    "expires_at": "2026-01-01T00:10:00Z",
                    "domain": "localhost:8000",
                    "chain_id": 31337,
                }
            ]
        }
    )

    nonce: str = Field(description="put this in the SIWE message's Nonce field")
    expires_at: str = Field(description="when the nonce stops being accepted (ISO 8601)")
    domain: str = Field(description="the domain the SIWE message must name")
    chain_id: int = Field(description="the chain id the SIWE message must name")
    address: Address | None = Field(
        default=None, description="the `address` asked about, EIP-55 checksummed"
    )


class VerifyRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message": "localhost:8000 wants you to sign in with your Ethereum account:\n"
                    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8\n\nSign in to depin\n\n"
                    "URI: http://localhost:8000\nVersion: 1\nChain ID: 31337\n"
                    "Nonce: kXq3bR5mY1d8Qw2z\nIssued At: 2026-01-01T00:00:00Z",
                    "signature": "0x" + "11" * 65,
                }
            ]
        }
    )

    message: str = Field(min_length=1, max_length=4096, description="the EIP-4361 message text")
    signature: str = Field(
        pattern=r"^0x([0-9a-fA-F]{2})*$",
        max_length=4098,
        description="personal_sign signature (EOA) or the wallet's ERC-1271 signature",
    )


class SessionResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "v1.eyJzdWIiOiIweDcw…",
                    "token_type": "Bearer",
                    "address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                    "chain_id": 31337,
                    "expires_at": "2026-01-01T01:00:00Z",
                }
            ]
        }
    )

    token: str = Field(description="send as `Authorization: Bearer <token>`")
    token_type: str = "Bearer"
    address: Address
    chain_id: int
    expires_at: str


class MeResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                    "chain_id": 31337,
                    "expires_at": "2026-01-01T01:00:00Z",
                }
            ]
        }
    )

    address: Address
    chain_id: int
    expires_at: str
