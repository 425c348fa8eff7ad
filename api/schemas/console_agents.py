"""Schemas of the console's agent routes: the typed data a provider signs to renew or revoke
one of its agent keys (answered as :class:`api.schemas.onboarding.TypedDataResponse`)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from api.schemas.common import ExpiresAt, Strict, Ttl


class AgentRenewalRequest(Strict):
    """The agent key's new expiry: after the chain's current time, within uint64."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"expires_at": 1769904000}]}
    )

    expires_at: ExpiresAt = Field(
        description="unix time the renewed authorization ends (the registry needs it ahead)"
    )
    ttl: Ttl | None = None


class AgentRevocationBody(Strict):
    """Optional: how long the signature stays valid (the API's default otherwise)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ttl": 900}]})

    ttl: Ttl | None = None
