"""Settings of one oracle node (env prefix ``DEPIN_ORACLE_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from depin.errors import ConfigurationError
from depin.settings import DEV_CHAIN_IDS, CommonSettings

PLACEHOLDER_PASSWORD = "change-me"


class OracleSettings(CommonSettings):
    """Where the chain is, which key signs, who the peers are and how batches are cut.

    ``rpc_url`` and ``home`` are ``DEPIN_ORACLE_RPC_URL`` / ``DEPIN_ORACLE_HOME``, else the
    shared ``DEPIN_RPC_URL`` / ``DEPIN_HOME`` (see :class:`~depin.settings.CommonSettings`).
    """

    model_config = SettingsConfigDict(env_prefix="DEPIN_ORACLE_", extra="ignore")

    name: str = "oracle-0"
    host: str = "127.0.0.1"
    port: int = 8600
    keystore: Path | None = None
    password: SecretStr = SecretStr(PLACEHOLDER_PASSWORD)
    peers: list[str] = Field(default_factory=list, description="base URLs of the other oracles")
    challenge_ttl_s: int = 600
    max_validity_s: int = 7 * 86400
    max_clock_skew_s: int = 300
    batch_max: int = 100
    batch_age_s: float = 5.0
    poll_s: float = 0.5
    liveness: bool = True
    authorization_ttl_s: float = 2.0
    facts_poll_s: float = Field(
        default=0.5, description="seconds between reads of new blocks' registry and oracle events"
    )
    resend_after_s: float = Field(
        default=30.0,
        description="a sent transaction still unmined after this long is replaced with higher "
        "fees (same nonce), and again after each such interval",
    )
    max_fee_gwei: float | None = Field(
        default=None, description="never bid more than this per gas when replacing (None: no cap)"
    )
    require_proof: bool = Field(
        default=True, description="approve only attestations with a proof-of-compute certificate"
    )
    allow_simulated: bool = Field(
        default=False, description="accept sim: models (replayed GPUs); only ever on a dev chain"
    )
    proof_params: Literal["production", "cpu"] = "production"
    sim_deadline_s: float = 20.0
    certificate_ttl_s: int = 600
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="the largest request body of an agent-facing route (413 above it, before "
        "anything is parsed)",
    )
    max_peer_body_bytes: int = Field(
        default=32 << 20,
        ge=1024,
        description="the largest body of the peer routes that carry signed heartbeats as "
        "evidence (/v1/liveness/evidence, /v1/liveness/cosign)",
    )
    inventory_url: str | None = Field(
        default=None,
        description="the inventory API's base URL: each capability document this oracle checked "
        "is PUT to <url>/v1/capabilities/<hash> once the chain attested it (off when unset)",
    )
    rate_per_agent: float = Field(
        default=5.0,
        ge=0,
        description="requests a second per agent (keyed by the agent the request names, else "
        "by client IP); 0 turns the limit off",
    )
    burst_per_agent: int = Field(
        default=64,
        ge=1,
        description="requests an agent may make at once (an attestation round of 8 GPUs makes "
        "about 40 on one oracle)",
    )

    @property
    def data_dir(self) -> Path:
        return self.home / "oracle" / self.name

    @property
    def keystore_path(self) -> Path:
        return self.keystore or self.data_dir / "key.json"

    @property
    def database(self) -> Path:
        return self.data_dir / "oracle.sqlite3"

    def check_secrets(self, chain_id: int) -> None:
        """Refuses the placeholder key store password outside a dev chain."""
        if (
            self.password.get_secret_value() == PLACEHOLDER_PASSWORD
            and chain_id not in DEV_CHAIN_IDS
        ):
            raise ConfigurationError(
                f"DEPIN_ORACLE_PASSWORD is the placeholder {PLACEHOLDER_PASSWORD!r} on chain "
                f"{chain_id}; set a real key store password"
            )
