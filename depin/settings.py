"""Settings shared by every role; each service derives its own class with its own env prefix.

A role's settings subclass :class:`CommonSettings` and set nothing but their own env prefix::

    class OracleSettings(CommonSettings):
        model_config = SettingsConfigDict(env_prefix="DEPIN_ORACLE_", extra="ignore")

``rpc_url`` and ``home`` then come from the role's own variable (``DEPIN_ORACLE_RPC_URL``,
``DEPIN_ORACLE_HOME``) when it is set, else from the shared ``DEPIN_RPC_URL`` and ``DEPIN_HOME``,
else from the defaults below. So ``DEPIN_HOME`` alone places every role's state.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from depin.toolchain import PROJECT_ROOT

DEV_CHAIN_IDS = frozenset({31337, 1337})

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_HOME = PROJECT_ROOT / ".depin"


class _Shared(BaseSettings):
    """``DEPIN_RPC_URL`` and ``DEPIN_HOME`` alone: the fallback of every role's own variables."""

    model_config = SettingsConfigDict(env_prefix="DEPIN_", extra="ignore")

    rpc_url: str = DEFAULT_RPC_URL
    home: Path = DEFAULT_HOME


def _shared_rpc_url() -> str:
    return _Shared().rpc_url


def _shared_home() -> Path:
    return _Shared().home


class CommonSettings(BaseSettings):
    """Where the chain is and where local state lives (``DEPIN_RPC_URL``, ``DEPIN_HOME``).

    In a role's subclass the role's prefix comes first: ``DEPIN_<ROLE>_RPC_URL`` overrides
    ``DEPIN_RPC_URL`` and ``DEPIN_<ROLE>_HOME`` overrides ``DEPIN_HOME``.
    """

    model_config = SettingsConfigDict(env_prefix="DEPIN_", extra="ignore")

    rpc_url: str = Field(
        default_factory=_shared_rpc_url,
        description=f"JSON-RPC endpoint of the chain (else $DEPIN_RPC_URL, else {DEFAULT_RPC_URL})",
    )
    home: Path = Field(
        default_factory=_shared_home,
        description="local state folder: deployments, key stores, databases (else $DEPIN_HOME, "
        "else .depin/ in the project)",
    )

    @property
    def deployments_dir(self) -> Path:
        return self.home / "deployments"
