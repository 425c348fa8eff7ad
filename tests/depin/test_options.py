"""The shared ``--rpc-url`` / ``--home`` options and the environment ``depin up`` gives children."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from agent.settings import AgentSettings
from depin._cli.supervisor import child_environment
from depin.cli_options import chain_options
from depin.settings import DEFAULT_RPC_URL


def _command(**options: object) -> click.Command:
    @click.command()
    @chain_options(**options)  # type: ignore[arg-type]
    def show(rpc_url: str, home: Path) -> None:
        click.echo(f"{rpc_url} {home}")

    return show


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DEPIN_HOME", "DEPIN_RPC_URL", "DEPIN_AGENT_HOME", "DEPIN_AGENT_RPC_URL"):
        monkeypatch.delenv(name, raising=False)


def test_left_out_the_options_come_from_depin_home_and_depin_rpc_url(tmp_path: Path) -> None:
    env = {"DEPIN_HOME": str(tmp_path), "DEPIN_RPC_URL": "http://shared.example"}
    for command in (_command(), _command(settings=AgentSettings)):
        result = CliRunner().invoke(command, [], env=env)
        assert result.output.split() == ["http://shared.example", str(tmp_path)]


def test_a_roles_own_variables_override_the_shared_ones(tmp_path: Path) -> None:
    env = {
        "DEPIN_HOME": str(tmp_path / "shared"),
        "DEPIN_RPC_URL": "http://shared.example",
        "DEPIN_AGENT_HOME": str(tmp_path / "agent"),
        "DEPIN_AGENT_RPC_URL": "http://agent.example",
    }
    result = CliRunner().invoke(_command(settings=AgentSettings), [], env=env)
    assert result.output.split() == ["http://agent.example", str(tmp_path / "agent")]
    result = CliRunner().invoke(_command(), [], env=env)
    assert result.output.split() == ["http://shared.example", str(tmp_path / "shared")]


def test_given_options_override_every_variable(tmp_path: Path) -> None:
    env = {"DEPIN_AGENT_HOME": str(tmp_path / "agent"), "DEPIN_RPC_URL": "http://shared.example"}
    args = ["--rpc-url", "http://given.example", "--home", str(tmp_path / "given")]
    result = CliRunner().invoke(_command(settings=AgentSettings), args, env=env)
    assert result.output.split() == ["http://given.example", str(tmp_path / "given")]


def test_without_any_variable_the_shared_default_rpc_url_is_used() -> None:
    result = CliRunner().invoke(_command(settings=AgentSettings), [])
    assert result.output.split()[0] == DEFAULT_RPC_URL


def test_the_stack_children_follow_depin_home_not_a_leftover_role_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEPIN_ORACLE_HOME", "/elsewhere")
    monkeypatch.setenv("DEPIN_API_RPC_URL", "http://elsewhere")
    monkeypatch.setenv("DEPIN_ORACLE_PASSWORD", "kept")
    env = child_environment({"DEPIN_HOME": "/stack", "DEPIN_INDEXER_HOME": "/named"})
    assert env["DEPIN_HOME"] == "/stack"
    assert env["DEPIN_INDEXER_HOME"] == "/named"
    assert env["DEPIN_ORACLE_PASSWORD"] == "kept"
    assert "DEPIN_ORACLE_HOME" not in env
    assert "DEPIN_API_RPC_URL" not in env
