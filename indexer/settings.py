"""Settings of the indexer (env prefix ``DEPIN_INDEXER_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from depin.settings import CommonSettings


class IndexerSettings(CommonSettings):
    """Where the indexer reads from and writes to, and how it paces the node.

    ``rpc_url`` and ``home`` are ``DEPIN_INDEXER_RPC_URL`` / ``DEPIN_INDEXER_HOME``, else the
    shared ``DEPIN_RPC_URL`` / ``DEPIN_HOME`` (see :class:`~depin.settings.CommonSettings`).
    """

    model_config = SettingsConfigDict(env_prefix="DEPIN_INDEXER_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; SQLite file under DEPIN_HOME by default. PostgreSQL: "
        "postgresql+psycopg://user@host/db",
    )
    finality: int | Literal["finalized"] = Field(
        default=64,
        description="blocks below head - N (or the node's `finalized` block) cannot reorg; "
        "the indexer keeps that many recent block hashes to roll back within",
    )
    contracts: list[str] = Field(
        default=["ProviderRegistry", "AttestationOracle"],
        description="deployed contracts to index (those recorded for the chain)",
    )
    poll_interval: float = Field(default=0.1, gt=0, description="seconds between head polls")
    initial_range: int = Field(default=2_000, ge=1, description="first eth_getLogs block range")
    max_range: int = Field(default=200_000, ge=1, description="largest eth_getLogs block range")
    target_logs: int = Field(
        default=10_000, ge=1, description="logs per request the range adapts towards"
    )
    request_timeout: float = Field(default=30.0, gt=0, description="seconds per RPC request")
    retry_attempts: int | None = Field(
        default=None,
        ge=1,
        description="most tries per request on failures that heal (none: as many as "
        "RETRY_GIVE_UP_AFTER allows)",
    )
    retry_max_wait: float = Field(default=10.0, gt=0, description="longest backoff, seconds")
    retry_give_up_after: float = Field(
        default=600.0,
        gt=0,
        description="seconds a failing request (lagging node, 429, 5xx, timeouts, resets) is "
        "retried before the indexer gives up",
    )
    chain_id: int | None = Field(
        default=None, description="the chain the node must serve; the indexer halts otherwise"
    )
    stalled_after: float = Field(
        default=300.0,
        gt=0,
        description="seconds without progress after which `status` says degraded",
    )
    metrics_port: int = Field(
        default=9101, ge=0, le=65535, description="port of `depin indexer run`'s /metrics (0: none)"
    )

    @field_validator("finality", mode="before")
    @classmethod
    def _parse_finality(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @property
    def sqlite_path(self) -> Path:
        return self.home / "indexer.sqlite"

    @property
    def url(self) -> str:
        """The database URL in effect."""
        return self.database_url or f"sqlite:///{self.sqlite_path}"
