"""Settings shared by every role; each service derives its own class with its own env prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from depin.toolchain import PROJECT_ROOT

DEV_CHAIN_IDS = frozenset({31337, 1337})


class CommonSettings(BaseSettings):
    """Where the chain is and where local state lives (``DEPIN_RPC_URL``, ``DEPIN_HOME``)."""

    model_config = SettingsConfigDict(env_prefix="DEPIN_", extra="ignore")

    rpc_url: str = Field(default="http://127.0.0.1:8545", description="JSON-RPC endpoint")
    home: Path = Field(default=PROJECT_ROOT / ".depin", description="local state folder")

    @property
    def deployments_dir(self) -> Path:
        return self.home / "deployments"
