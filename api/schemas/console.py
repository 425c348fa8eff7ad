"""Schemas of the provider's console: API tokens, its fleet, relayed transactions, webhook
subscriptions and their deliveries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Address
from api.schemas.explorer import GpuItem, LivenessState

TokenScope = Literal["read", "alerts:write", "relay"]


class WhoAmI(BaseModel):
    provider: Address = Field(description="the provider this credential acts for")
    kind: Literal["session", "token"]
    scopes: list[str] = Field(description="what it may do (`tokens`: manage API tokens)")
    token_id: str | None = None


class TokenCreateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "grafana alerts", "scopes": ["read"], "expires_in": 2592000}]
        },
    )

    name: str = Field(min_length=1, max_length=64, description="what the token is for")
    scopes: list[TokenScope] = Field(min_length=1, max_length=3)
    expires_in: int | None = Field(
        default=None,
        ge=60,
        le=366 * 86400,
        description="seconds until the token expires (none: until revoked)",
    )


class TokenItem(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="the token's first characters, to tell tokens apart")
    scopes: list[str]
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None = Field(description="to the minute")
    active: bool = Field(description="neither revoked nor expired")


class TokenCreated(TokenItem):
    token: str = Field(
        description="the token (`depin_pat_...`): shown this once, only its hash is kept"
    )


class TokenList(BaseModel):
    items: list[TokenItem]


class ConsoleGpuPage(BaseModel):
    provider: Address
    items: list[GpuItem] = Field(description="the provider's GPUs by GPU key, as the explorer")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")
    total: int
    total_exact: bool
    liveness: LivenessState
    as_of_block: int


class ConsoleAgent(BaseModel):
    agent: Address
    expires_at: int = Field(description="unix time its authorization ends")
    expires_in_s: int = Field(description="seconds from now (negative: expired)")
    revoked: bool
    authorized: bool = Field(description="unrevoked, unexpired, and the provider is active")
    authorized_block: int


class ConsoleAgents(BaseModel):
    provider: Address
    items: list[ConsoleAgent]
    as_of_block: int


class ConsoleAttestation(BaseModel):
    outcome: Literal["accepted", "rejected"]
    gpu_key: str
    tx_hash: str
    block_number: int
    log_index: int
    block_time: int | None
    reason: str | None = Field(
        description="why the contract rejected it: expired, measured_in_future, "
        "stale_measurement, invalid_agent_signature, unauthorized_agent"
    )
    agent: str | None
    model: str | None
    throughput_gops: int | None
    measured_at: int | None
    expires_at: int | None


class ConsoleAttestations(BaseModel):
    provider: Address
    items: list[ConsoleAttestation] = Field(description="newest first")
    next_before_block: int | None = Field(description="pass as `before_block` for older ones")
    as_of_block: int


class RelayedItem(BaseModel):
    digest: str = Field(description="the signed message's EIP-712 digest")
    primary_type: str
    nonce: int
    relayed_at: str
    tx_hash: str = Field(description="the latest transaction (a fee bump replaces the hash)")
    outcome: str = Field(
        description="sent (not settled yet), mined, reverted, dropped, replaced or cancelled"
    )


class RelayedList(BaseModel):
    provider: Address
    items: list[RelayedItem] = Field(description="newest first")


AlertEvent = Literal[
    "gpu_offline",
    "gpu_unhealthy",
    "attestation_expiring",
    "agent_expiring",
    "attestation_rejected",
    "provider_changed",
]


class SubscriptionCreateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://ops.example/hooks/depin",
                    "events": ["gpu_offline", "attestation_expiring"],
                    "offline_epochs": 3,
                    "expiring_within_s": 86400,
                }
            ]
        },
    )

    url: str = Field(min_length=8, max_length=2048, description="https (http on a dev chain)")
    events: list[AlertEvent] = Field(min_length=1, max_length=6)
    offline_epochs: int = Field(
        default=1, ge=1, le=1008, description="gpu_offline: after this many epochs offline"
    )
    expiring_within_s: int = Field(
        default=86400,
        ge=60,
        le=30 * 86400,
        description="attestation_expiring, agent_expiring: this long before the expiry",
    )


class SubscriptionItem(BaseModel):
    id: str
    url: str
    events: list[str]
    offline_epochs: int
    expiring_within_s: int
    created_at: str
    active: bool
    failures: int = Field(description="failed delivery attempts in a row")
    disabled_at: str | None
    disabled_reason: str | None


class SubscriptionCreated(SubscriptionItem):
    secret: str = Field(description="the HMAC-SHA256 key of `X-Depin-Signature`: shown this once")


class SubscriptionList(BaseModel):
    items: list[SubscriptionItem]


class DeliveryItem(BaseModel):
    id: int
    idempotency_key: str = Field(description="the same on every attempt of this alert")
    event: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: str | None
    created_at: str
    delivered_at: str | None
    body: dict[str, Any] = Field(description="what is POSTed, byte for byte as JSON")


class LogItem(BaseModel):
    id: int
    delivery_id: int | None
    at: str
    attempt: int | None
    outcome: Literal["delivered", "failed", "disabled", "enabled"]
    status: int | None = Field(description="the receiver's HTTP status, if it answered")
    detail: str


class DeliveryLog(BaseModel):
    subscription: SubscriptionItem
    deliveries: list[DeliveryItem] = Field(description="newest first")
    log: list[LogItem] = Field(description="newest first")
