"""Settings of the API service (environment prefix ``DEPIN_API_``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from depin.errors import ConfigurationError
from depin.settings import DEV_CHAIN_IDS, CommonSettings

PLACEHOLDER_SECRET = "insecure-dev-session-secret-change-me"

#: block explorers of well-known chains (Etherscan-style ``/address/<a>`` and ``/tx/<hash>``
#: pages); a dev chain has none
DEFAULT_BLOCK_EXPLORERS: dict[int, str] = {
    1: "https://etherscan.io",
    10: "https://optimistic.etherscan.io",
    137: "https://polygonscan.com",
    8453: "https://basescan.org",
    17000: "https://holesky.etherscan.io",
    42161: "https://arbiscan.io",
    84532: "https://sepolia.basescan.org",
    421614: "https://sepolia.arbiscan.io",
    11155111: "https://sepolia.etherscan.io",
    11155420: "https://sepolia-optimism.etherscan.io",
}
_EXPLORERS_ENV = "DEPIN_API_BLOCK_EXPLORERS"


def _explorer_url(chain_id: int, value: object) -> str | None:
    """A block explorer's base URL: https, a host, an optional path; no query or fragment."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # no explorer for this chain (overrides a default)
    if not isinstance(value, str):
        raise ValueError(f"{_EXPLORERS_ENV}: chain {chain_id}'s explorer must be a URL string")
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"{_EXPLORERS_ENV}: chain {chain_id}'s explorer {value.strip()[:100]!r} is not an "
            "https:// URL such as https://etherscan.io (no query or fragment)"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{_EXPLORERS_ENV}: chain {chain_id}'s explorer URL holds credentials")
    return f"https://{parts.netloc.lower()}{parts.path.rstrip('/')}"


class ApiSettings(CommonSettings):
    """Everything ``depin api serve`` needs; each field is ``DEPIN_API_<NAME>`` in the env.

    ``rpc_url`` and ``home`` are ``DEPIN_API_RPC_URL`` / ``DEPIN_API_HOME``, else the shared
    ``DEPIN_RPC_URL`` / ``DEPIN_HOME`` (see :class:`~depin.settings.CommonSettings`).
    """

    model_config = SettingsConfigDict(env_prefix="DEPIN_API_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="the indexer's inventory database, opened read only; by default the "
        "indexer's SQLite file under DEPIN_HOME",
    )
    registry_address: str | None = Field(
        default=None, description="ProviderRegistry address; else the recorded deployment"
    )
    host: str = "127.0.0.1"
    port: int = 8000

    session_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET),
        description="HMAC key of session tokens (at least 32 bytes outside a dev chain)",
    )
    session_ttl: int = Field(default=3600, ge=60, description="session token lifetime, seconds")
    public_url: str | None = Field(
        default=None,
        description="the origin browsers reach this API at (e.g. https://explorer.example); "
        "SIWE messages must name its authority as their domain and a URI on this origin. "
        "`depin up` sets it from its ports",
    )
    siwe_domain: str = Field(
        default="localhost:8000",
        description="the RFC 3986 authority SIWE messages must name when DEPIN_API_PUBLIC_URL "
        "is unset",
    )
    siwe_clock_skew_s: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="how far a SIWE message's Issued At may be ahead of this server's clock",
    )
    siwe_nonce_ttl: int = Field(default=600, ge=10, description="how long a SIWE nonce lives")

    signature_ttl: int = Field(default=3600, ge=60, description="deadline of typed data, seconds")
    relayer_keystore: Path | None = Field(
        default=None, description="key store of the account that pays for relayed transactions"
    )
    relayer_password: SecretStr | None = Field(
        default=None, description="password of the relayer key store"
    )
    relayer_password_file: Path | None = None

    relay_resend_after_s: float = Field(
        default=60.0,
        gt=0,
        description="a relayed transaction unmined this long is replaced with higher fees "
        "(or cancelled if its call would now revert)",
    )
    relay_max_fee_gwei: float | None = Field(
        default=None, description="never bid more than this per gas when replacing"
    )
    relay_follow_s: float = Field(
        default=5.0, gt=0, description="how often the relayer's unmined transactions are checked"
    )

    ip_rate: float = Field(default=2.0, gt=0, description="onboarding requests per second per IP")
    ip_burst: int = Field(default=30, ge=1)
    address_rate: float = Field(
        default=0.2, gt=0, description="relayed transactions per second per provider address"
    )
    address_burst: int = Field(default=5, ge=1)

    state_path: Path | None = Field(
        default=None,
        description="SQLite file the worker processes share (SIWE nonces, rate limits, the "
        "relayer's lock); by default api-state.sqlite3 in the home folder",
    )

    gpu_index: bool = Field(
        default=True,
        description="answer GET /v1/gpus filters from an in-memory column index of the GPU "
        "list (about 430 bytes a GPU in each API process; built in the background at start)",
    )
    alerts_enabled: bool = Field(
        default=True, description="run the webhook alert worker in this process"
    )
    alerts_allow_private_urls: bool = Field(
        default=False,
        description="let webhook URLs resolve to loopback, private or link-local addresses "
        "(`depin up`'s dev stack sets it)",
    )
    alerts_allow_http: bool | None = Field(
        default=None, description="accept http:// webhook URLs (default: only on a dev chain)"
    )
    alerts_poll_s: float = Field(
        default=2.0, gt=0, description="how often the alert worker reads the feed and sends"
    )
    alerts_timeout_s: float = Field(default=5.0, gt=0, description="one delivery's timeout")
    alerts_backoff_s: float = Field(
        default=10.0, gt=0, description="the first retry's delay; each next one doubles"
    )
    alerts_backoff_max_s: float = Field(default=3600.0, gt=0, description="the longest delay")
    alerts_max_attempts: int = Field(
        default=12, ge=1, description="attempts of one delivery before it is given up"
    )
    alerts_disable_after: int = Field(
        default=10,
        ge=1,
        description="consecutive failed attempts after which a subscription is disabled",
    )
    alerts_max_subscriptions: int = Field(
        default=20, ge=1, description="webhook subscriptions per provider"
    )

    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=200, ge=1)
    online_epochs: int = Field(
        default=3, ge=1, description="a GPU is online if it was live within this many epochs"
    )
    sse_poll_interval: float = Field(default=0.5, gt=0, description="SSE database poll, seconds")
    sse_keepalive: float = Field(default=15.0, gt=0)
    block_explorers: Annotated[dict[int, str | None], NoDecode] = Field(
        default_factory=dict,
        description="block explorer base URLs by chain id, as JSON (e.g. "
        '`{"1": "https://etherscan.io", "8453": "https://basescan.org"}`): the web page links '
        "addresses to `<url>/address/<address>` and transactions to `<url>/tx/<hash>`. Each "
        "entry overrides the built-in default for its chain (Ethereum, Base, Optimism, "
        "Arbitrum, Polygon and their testnets; none for a dev chain); an empty string or null "
        "removes it. Only https:// URLs",
        examples=[{"1": "https://etherscan.io", "8453": "https://basescan.org"}],
    )

    @field_validator("public_url")
    @classmethod
    def _origin_only(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(
                "DEPIN_API_PUBLIC_URL must be an origin such as https://explorer.example or "
                "http://127.0.0.1:8000 (scheme, host, optional port; no path)"
            )
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @field_validator("block_explorers", mode="before")
    @classmethod
    def _explorers(cls, value: Any) -> dict[int, str | None]:
        if value is None:
            return {}
        if isinstance(value, (str, bytes)):
            text = value.decode() if isinstance(value, bytes) else value
            if not text.strip():
                return {}
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ValueError(
                    f"{_EXPLORERS_ENV} is not JSON ({exc}); give an object of chain ids to "
                    'https URLs, e.g. {"1": "https://etherscan.io"}'
                ) from None
        if not isinstance(value, dict):
            raise ValueError(
                f"{_EXPLORERS_ENV} must be a JSON object of chain ids to https URLs, e.g. "
                '{"1": "https://etherscan.io"}'
            )
        out: dict[int, str | None] = {}
        for key, url in value.items():
            try:
                chain_id = int(str(key).strip())
            except ValueError:
                chain_id = -1
            if chain_id <= 0 or chain_id >= 2**64 or isinstance(key, bool):
                raise ValueError(f"{_EXPLORERS_ENV}: {str(key)[:40]!r} is not a chain id")
            out[chain_id] = _explorer_url(chain_id, url)
        return out

    def block_explorer(self, chain_id: int | None) -> str | None:
        """The block explorer's base URL for ``chain_id``: the configured one, else the
        well-known chain's default; None for a dev chain or an unknown one."""
        if chain_id is None:
            return None
        if chain_id in self.block_explorers:
            return self.block_explorers[chain_id]
        return DEFAULT_BLOCK_EXPLORERS.get(chain_id)

    @property
    def public_origin(self) -> str | None:
        """``scheme://authority`` this API is reachable at, if configured."""
        return self.public_url

    @property
    def siwe_authority(self) -> str:
        """The authority SIWE messages must name: the public URL's, else ``siwe_domain``."""
        return urlsplit(self.public_url).netloc if self.public_url else self.siwe_domain

    @property
    def url(self) -> str:
        """The inventory database URL in effect (the indexer's default file if unset)."""
        return self.database_url or f"sqlite:///{self.home / 'indexer.sqlite'}"

    @property
    def shared_state_path(self) -> Path:
        return self.state_path or self.home / "api-state.sqlite3"

    def check_secret(self, chain_id: int) -> None:
        """Refuses the placeholder (or a short) session secret outside a dev chain."""
        if chain_id in DEV_CHAIN_IDS:
            return
        secret = self.session_secret.get_secret_value()
        if secret == PLACEHOLDER_SECRET or len(secret.encode()) < 32:
            raise ConfigurationError(
                f"chain {chain_id} is not a dev chain: set DEPIN_API_SESSION_SECRET to a random "
                "secret of at least 32 bytes (e.g. `openssl rand -hex 32`)"
            )
