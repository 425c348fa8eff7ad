"""The agent's settings, from ``DEPIN_AGENT_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from depin.settings import CommonSettings


class AgentSettings(CommonSettings):
    """Where the agent keeps its key and how often it looks at the hardware.

    ``rpc_url`` and ``home`` are ``DEPIN_AGENT_RPC_URL`` / ``DEPIN_AGENT_HOME``, else the shared
    ``DEPIN_RPC_URL`` / ``DEPIN_HOME`` (see :class:`~depin.settings.CommonSettings`).
    """

    model_config = SettingsConfigDict(env_prefix="DEPIN_AGENT_", extra="ignore")

    keystore: Path = Field(default_factory=lambda: Path.home() / ".depin" / "agent-keystore.json")
    watch_interval_s: float = Field(default=30.0, gt=0)
    authorization_ttl_days: float = Field(default=30.0, gt=0)
    metrics_port: int = Field(default=9102, ge=0, le=65535, description="/metrics port (0: none)")
