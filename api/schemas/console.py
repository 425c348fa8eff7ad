"""Schemas of the provider's console: API tokens, its fleet, relayed transactions, webhook
subscriptions and their deliveries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Address
from api.schemas.explorer import GPU_EXAMPLE, LIVENESS_EXAMPLE, GpuItem, LivenessState

TokenScope = Literal["read", "alerts:write", "relay"]

_PROVIDER: str = GPU_EXAMPLE["provider"]
_AGENT: str = GPU_EXAMPLE["agent"]
_GPU_KEY: str = GPU_EXAMPLE["gpu_key"]

TOKEN_EXAMPLE: dict[str, Any] = {
    "id": "tok_66d79189062e0fab",
    "name": "grafana alerts",
    "prefix": "depin_pat_gbzGvE",
    "scopes": ["read"],
    "created_at": "2026-01-02T09:41:17.204518Z",
    "expires_at": "2026-02-01T09:41:17.204518Z",
    "revoked_at": None,
    "last_used_at": None,
    "active": True,
}

SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "id": "sub_3a31fc2b41eb8580",
    "url": "https://ops.example/hooks/depin",
    "events": ["gpu_offline", "attestation_expiring"],
    "offline_epochs": 3,
    "expiring_within_s": 86400,
    "created_at": "2026-01-02T09:55:12.318406Z",
    "active": True,
    "failures": 0,
    "disabled_at": None,
    "disabled_reason": None,
}


class WhoAmI(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider": _PROVIDER,
                    "kind": "token",
                    "scopes": ["read"],
                    "token_id": "tok_66d79189062e0fab",
                },
                {
                    "provider": _PROVIDER,
                    "kind": "session",
                    "scopes": ["alerts:write", "read", "relay", "tokens"],
                    "token_id": None,
                },
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **TOKEN_EXAMPLE,
                    "token": "depin_pat_gbzGvErTAytkzpY0MSwxPpDNAu1xs4naocF-NwyEc4U",
                }
            ]
        }
    )

    token: str = Field(
        description="the token (`depin_pat_...`): shown this once, only its hash is kept"
    )


class TokenList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {**TOKEN_EXAMPLE, "last_used_at": "2026-01-02T10:12:00.871203Z"},
                        {
                            "id": "tok_6aa2f65953c7132d",
                            "name": "relay from ci",
                            "prefix": "depin_pat_cBc5br",
                            "scopes": ["read", "relay"],
                            "created_at": "2025-12-18T14:03:51.660127Z",
                            "expires_at": None,
                            "revoked_at": "2025-12-30T08:20:44.019385Z",
                            "last_used_at": "2025-12-29T23:58:10.442916Z",
                            "active": False,
                        },
                    ]
                }
            ]
        }
    )

    items: list[TokenItem]


class ConsoleGpuPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider": _PROVIDER,
                    "items": [GPU_EXAMPLE],
                    "next_cursor": None,
                    "total": 1,
                    "total_exact": True,
                    "liveness": LIVENESS_EXAMPLE,
                    "as_of_block": 1210,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider": _PROVIDER,
                    "items": [
                        {
                            "agent": _AGENT,
                            "expires_at": 1769904000,
                            "expires_in_s": 2556000,
                            "revoked": False,
                            "authorized": True,
                            "authorized_block": 18,
                        },
                        {
                            "agent": "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
                            "expires_at": 1767312000,
                            "expires_in_s": -36000,
                            "revoked": False,
                            "authorized": False,
                            "authorized_block": 12,
                        },
                    ],
                    "as_of_block": 1210,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider": _PROVIDER,
                    "items": [
                        {
                            "outcome": "rejected",
                            "gpu_key": _GPU_KEY,
                            "tx_hash": (
                                "0x6b81ae246f655f76fabf1cbc3738e82c42bd04da7bc89d35ad69fb8c64ae674b"
                            ),
                            "block_number": 1204,
                            "log_index": 1,
                            "block_time": 1767225660,
                            "reason": "stale_measurement",
                            "agent": None,
                            "model": None,
                            "throughput_gops": None,
                            "measured_at": None,
                            "expires_at": None,
                        },
                        {
                            "outcome": "accepted",
                            "gpu_key": _GPU_KEY,
                            "tx_hash": GPU_EXAMPLE["attestation_tx"],
                            "block_number": 1200,
                            "log_index": 3,
                            "block_time": 1767225612,
                            "reason": None,
                            "agent": _AGENT,
                            "model": "nvidia-h100-sxm5-80gb",
                            "throughput_gops": 1812345,
                            "measured_at": 1767225600,
                            "expires_at": 1767830400,
                        },
                    ],
                    "next_before_block": 1200,
                    "as_of_block": 1210,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider": _PROVIDER,
                    "items": [
                        {
                            "digest": (
                                "0xaee6e668cf0c377c8bccf9fc7ed6f9632453ae066280dc6260f62ae92111e5a2"
                            ),
                            "primary_type": "AgentAuthorization",
                            "nonce": 1,
                            "relayed_at": "2026-01-02T09:30:05.127734Z",
                            "tx_hash": (
                                "0x64c19ec45aa44597ae3cf2412839dfb9fd98eb79f69a4910d10be9cce6d25111"
                            ),
                            "outcome": "mined",
                        },
                        {
                            "digest": (
                                "0x65ed0467be93c84b5c6cffb45a5c8e43f0fcc5a6b00efb8afecc2d5ccf6a8504"
                            ),
                            "primary_type": "Registration",
                            "nonce": 0,
                            "relayed_at": "2025-12-31T16:02:48.551090Z",
                            "tx_hash": (
                                "0x1d3c5e0f8a2b47c69e0d4f1a7b3c8e25d6f0a9b4c7e1d2f3a5b6c8d9e0f1a2b3"
                            ),
                            "outcome": "mined",
                        },
                    ],
                }
            ]
        }
    )

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
    model_config = ConfigDict(json_schema_extra={"examples": [SUBSCRIPTION_EXAMPLE]})

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **SUBSCRIPTION_EXAMPLE,
                    "secret": "whsec_j1xDAm5eesE9kj8d_8GAij_2pNPoc_S1uZcmh5iCjDo",
                }
            ]
        }
    )

    secret: str = Field(description="the HMAC-SHA256 key of `X-Depin-Signature`: shown this once")


class SubscriptionList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        SUBSCRIPTION_EXAMPLE,
                        {
                            "id": "sub_c07e5d19a4b28f63",
                            "url": "https://alerts.acme.example/depin",
                            "events": ["agent_expiring", "attestation_rejected"],
                            "offline_epochs": 1,
                            "expiring_within_s": 604800,
                            "created_at": "2025-12-20T11:17:36.904512Z",
                            "active": False,
                            "failures": 10,
                            "disabled_at": "2025-12-28T03:41:09.775201Z",
                            "disabled_reason": "disabled after 10 failed delivery attempts in "
                            "a row; the last: answered HTTP 410",
                        },
                    ]
                }
            ]
        }
    )

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


_OFFLINE_ALERT = "evt_91a9f1b45f799997c02069316ce2612e"


class DeliveryLog(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subscription": SUBSCRIPTION_EXAMPLE,
                    "deliveries": [
                        {
                            "id": 42,
                            "idempotency_key": _OFFLINE_ALERT,
                            "event": "gpu_offline",
                            "state": "delivered",
                            "attempts": 2,
                            "next_attempt_at": "2026-01-02T10:00:13.853377Z",
                            "created_at": "2026-01-02T10:00:02.501964Z",
                            "delivered_at": "2026-01-02T10:00:14.120458Z",
                            "body": {
                                "as_of_block": 1210,
                                "created_at": "2026-01-02T10:00:02.501964Z",
                                "data": {
                                    "epochs": 3,
                                    "gpu_key": _GPU_KEY,
                                    "last_seen_epoch": 4120,
                                    "offline_since_epoch": 4121,
                                },
                                "event": "gpu_offline",
                                "id": _OFFLINE_ALERT,
                                "provider": _PROVIDER,
                                "subject": _GPU_KEY,
                                "subscription": "sub_3a31fc2b41eb8580",
                            },
                        }
                    ],
                    "log": [
                        {
                            "id": 97,
                            "delivery_id": 42,
                            "at": "2026-01-02T10:00:14.120458Z",
                            "attempt": 2,
                            "outcome": "delivered",
                            "status": 200,
                            "detail": "delivered",
                        },
                        {
                            "id": 96,
                            "delivery_id": 42,
                            "at": "2026-01-02T10:00:03.853377Z",
                            "attempt": 1,
                            "outcome": "failed",
                            "status": 503,
                            "detail": "answered HTTP 503; next attempt in 10 s",
                        },
                    ],
                }
            ]
        }
    )

    subscription: SubscriptionItem
    deliveries: list[DeliveryItem] = Field(description="newest first")
    log: list[LogItem] = Field(description="newest first")
