"""Schemas of the provider's console: API tokens, its fleet, relayed transactions, webhook
subscriptions and their deliveries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Address

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


class ConsoleList(BaseModel):
    """A list of the provider's things, with the block the inventory is at."""

    provider: Address
    items: list[dict[str, Any]]
    as_of_block: int
