"""The agent's settings, from ``DEPIN_AGENT_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AgentSettings(BaseSettings):
    """Where the agent keeps its key and how often it looks at the hardware."""

    model_config = SettingsConfigDict(env_prefix="DEPIN_AGENT_", extra="ignore")

    keystore: Path = Field(default_factory=lambda: Path.home() / ".depin" / "agent-keystore.json")
    watch_interval_s: float = Field(default=30.0, gt=0)
    authorization_ttl_days: float = Field(default=30.0, gt=0)
