"""Every role's settings take DEPIN_HOME and DEPIN_RPC_URL, and the role's own prefix wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from agent.settings import AgentSettings
from api.settings import ApiSettings
from depin.settings import DEFAULT_HOME, DEFAULT_RPC_URL, CommonSettings
from indexer.settings import IndexerSettings
from oracle.settings import OracleSettings

ROLES: dict[str, type[CommonSettings]] = {
    "DEPIN_AGENT_": AgentSettings,
    "DEPIN_ORACLE_": OracleSettings,
    "DEPIN_INDEXER_": IndexerSettings,
    "DEPIN_API_": ApiSettings,
}
SHARED = ("DEPIN_HOME", "DEPIN_RPC_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for prefix in ("DEPIN_", *ROLES):
        for name in ("HOME", "RPC_URL"):
            monkeypatch.delenv(prefix + name, raising=False)


@pytest.mark.parametrize("prefix", ROLES)
def test_role_settings_are_common_settings_with_their_own_prefix(prefix: str) -> None:
    settings_class = ROLES[prefix]
    assert issubclass(settings_class, CommonSettings)
    assert settings_class.model_config.get("env_prefix") == prefix


@pytest.mark.parametrize("settings_class", [CommonSettings, *ROLES.values()])
def test_without_any_variable_every_role_uses_the_shared_defaults(
    settings_class: type[BaseSettings],
) -> None:
    settings = settings_class()
    assert settings.rpc_url == DEFAULT_RPC_URL  # type: ignore[attr-defined]
    assert settings.home == DEFAULT_HOME  # type: ignore[attr-defined]


@pytest.mark.parametrize("settings_class", [CommonSettings, *ROLES.values()])
def test_every_role_takes_depin_home_and_depin_rpc_url(
    settings_class: type[CommonSettings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEPIN_HOME", str(tmp_path))
    monkeypatch.setenv("DEPIN_RPC_URL", "http://shared.example:8545")
    settings = settings_class()
    assert settings.home == tmp_path
    assert settings.rpc_url == "http://shared.example:8545"
    assert settings.deployments_dir == tmp_path / "deployments"


@pytest.mark.parametrize("prefix", ROLES)
def test_the_role_prefix_overrides_the_shared_variables(
    prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEPIN_HOME", str(tmp_path / "shared"))
    monkeypatch.setenv("DEPIN_RPC_URL", "http://shared.example:8545")
    monkeypatch.setenv(f"{prefix}HOME", str(tmp_path / "own"))
    monkeypatch.setenv(f"{prefix}RPC_URL", "http://own.example:8545")
    settings = ROLES[prefix]()
    assert settings.home == tmp_path / "own"
    assert settings.rpc_url == "http://own.example:8545"
    # another role's variables are not this role's
    for other in ROLES.values():
        if other is not ROLES[prefix]:
            assert other().home == tmp_path / "shared"


@pytest.mark.parametrize("settings_class", ROLES.values())
def test_arguments_override_every_variable(
    settings_class: type[CommonSettings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEPIN_HOME", str(tmp_path / "shared"))
    settings = settings_class(home=tmp_path / "given", rpc_url="http://given.example")
    assert (settings.home, settings.rpc_url) == (tmp_path / "given", "http://given.example")


def test_the_oracle_keeps_its_state_under_depin_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEPIN_HOME", str(tmp_path))
    settings = OracleSettings(name="o1")
    assert settings.keystore_path == tmp_path / "oracle" / "o1" / "key.json"
    assert settings.database == tmp_path / "oracle" / "o1" / "oracle.sqlite3"


def test_the_api_and_indexer_share_the_inventory_under_depin_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEPIN_HOME", str(tmp_path))
    assert ApiSettings().url == IndexerSettings().url == f"sqlite:///{tmp_path / 'indexer.sqlite'}"
