"""The ``depin`` command line: one subcommand group per role, loaded lazily.

This is the only module of the shared package that imports the roles: each role exposes a
click group in its own ``cli`` module, and ``depin --help`` stays fast because none is imported
until it is used.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

from depin.errors import DepinError
from depin.toolchain import configure_environment

# name -> "module:attribute" of a click command
_COMMANDS: dict[str, str] = {
    "chain": "depin._cli.chain:chain",
    "deploy": "depin._cli.deploy:deploy",
    "provider": "depin._cli.provider:provider",
    "up": "depin._cli.up:up",
    "agent": "agent.cli:agent",
    "oracle": "oracle.cli:oracle",
    "indexer": "indexer.cli:indexer",
    "api": "api.cli:api",
}

_HELP: dict[str, str] = {
    "chain": "Start a local anvil node.",
    "deploy": "Deploy the contracts and record their addresses.",
    "provider": "Register, update and manage agents as a GPU provider.",
    "up": "Run the whole system locally.",
    "agent": "GPU discovery, benchmarks and the agent daemon.",
    "oracle": "Oracle node: verify and co-sign attestations.",
    "indexer": "Mirror contract events into the SQL inventory.",
    "api": "Explorer and onboarding HTTP API.",
}


class DepinGroup(click.Group):
    """A click group that ends a :class:`~depin.errors.DepinError` with one sentence
    (``Error: ...``, exit status 1) instead of a traceback, as ape's ``ApeCLI.invoke`` does.
    Each role's group is one, so that it reads the same on its own as under ``depin``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DepinError as err:
            raise click.ClickException(err.message) from err


class _LazyGroup(DepinGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if self._available(name))

    @staticmethod
    def _available(name: str) -> bool:
        module = _COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module.split(".")[0]) is not None and _has(module)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None or not self._available(cmd_name):
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _HELP.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="depin")
def main(**_: Any) -> None:
    """depin: a blockchain-anchored GPU registry."""
    configure_environment()
