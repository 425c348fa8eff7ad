"""The ``depin`` command line: one subcommand group per role, loaded lazily.

This is the only module of the shared package that imports the roles: each role exposes a
click group in its own ``cli`` module, and ``depin --help`` stays fast because none is imported
until it is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
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


DEBUG_ENV = "DEPIN_DEBUG"


class DepinGroup(click.Group):
    """A click group that ends every error with one line (``Error: ...``, exit status 1)
    instead of a traceback, as ape's ``ApeCLI.invoke`` does: a
    :class:`~depin.errors.DepinError` with its sentence, common outside errors (a node that
    cannot be reached, a file that cannot be read, a wrong key store password, a malformed
    address) with a sentence that says what to do, anything else with its name and how to see
    the traceback (``DEPIN_DEBUG=1``, which also lets every error through unchanged).
    Each role's group is one, so that it reads the same on its own as under ``depin``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except DepinError as err:
            if _debug():
                raise
            raise click.ClickException(_one_line(err.message)) from err
        except Exception as err:
            if _debug():
                raise
            raise click.ClickException(explain(err)) from err


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def explain(err: BaseException) -> str:
    """One line a person can act on for an error that is not a :class:`DepinError`."""
    return _one_line(_known(err) or _last_resort(err))


def _last_resort(err: BaseException) -> str:
    detail = str(err).strip()
    name = type(err).__name__
    return (
        f"{name}: {detail[:300]} " if detail else f"{name} "
    ) + f"(an unexpected error; run again with {DEBUG_ENV}=1 to see the traceback)"


def _known(err: BaseException) -> str | None:
    for cause in _chain(err):
        sentence = _sentence(cause)
        if sentence:
            return sentence
    return None


def _chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _sentence(err: BaseException) -> str | None:
    name = type(err).__name__
    module = type(err).__module__
    text = str(err)
    if isinstance(err, FileNotFoundError):
        return f"no such file or folder: {err.filename or text}; check the path"
    if isinstance(err, IsADirectoryError):
        return f"{err.filename or text} is a folder; give the path of a file"
    if isinstance(err, NotADirectoryError):
        return f"{err.filename or text}: a part of the path is not a folder; check the path"
    if isinstance(err, PermissionError):
        return f"permission denied: {err.filename or text}; check the file's owner and mode"
    if isinstance(err, UnicodeDecodeError):
        return "a file is not text (UTF-8); check that you gave the right file"
    if isinstance(err, json.JSONDecodeError):
        return f"a file is not valid JSON ({err.msg} at line {err.lineno}); check its contents"
    if name == "ValidationError" and module.startswith("pydantic"):
        errors: list[dict[str, Any]] = list(getattr(err, "errors", list)())
        if errors:
            first = errors[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "a setting"
            return f"invalid setting {where}: {first.get('msg', text)}; fix it and run again"
    if name in ("OperationalError", "DatabaseError", "InterfaceError") and (
        module.startswith(("sqlite3", "sqlalchemy", "psycopg"))
    ):
        detail = str(getattr(err, "orig", None) or text).strip().splitlines()
        return (
            f"the database cannot be opened or read ({detail[0] if detail else name}); "
            "check the database URL (DEPIN_*_DATABASE_URL) or that the file is the right one"
        )
    if _is_unreachable(err):
        url = _url_in(text)
        where = f" at {url}" if url else ""
        return (
            f"cannot reach the node or service{where}: is it running? "
            "check --rpc-url / DEPIN_RPC_URL (or the URL you gave)"
        )
    if isinstance(err, TimeoutError) or name in ("ReadTimeout", "Timeout", "TimeoutException"):
        return "a node or service did not answer in time; check that it is up and try again"
    if "MAC mismatch" in text:
        return "wrong password for the key store; check --password-file or DEPIN_PASSWORD"
    if name in ("InvalidAddress", "InvalidChecksumAddress") or (
        isinstance(err, (ValueError, TypeError)) and _mentions_address(text)
    ):
        return (
            f"not a valid address ({text[:120]}): give a 0x-prefixed 20-byte hex address, "
            "checksummed or all lower case"
        )
    return None


_UNREACHABLE_NAMES = frozenset(
    {
        "ConnectionError",
        "ConnectError",
        "ClientConnectorError",
        "ClientConnectionError",
        "ProviderConnectionError",
        "NewConnectionError",
        "MaxRetryError",
        "CannotConnectToHost",
        "ServerDisconnectedError",
        "RemoteDisconnected",
    }
)


def _is_unreachable(err: BaseException) -> bool:
    if isinstance(err, (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError)):
        return True
    if type(err).__name__ in _UNREACHABLE_NAMES:
        return True
    import socket

    return isinstance(err, socket.gaierror)


def _url_in(text: str) -> str | None:
    match = re.search(r"(?:https?|wss?)://[^\s'\")>]+", text)
    if match:
        return match.group(0)
    host = re.search(r"host='([^']+)', port=(\d+)", text)
    return f"{host.group(1)}:{host.group(2)}" if host else None


def _mentions_address(text: str) -> bool:
    lowered = text.lower()
    return "address" in lowered and any(
        word in lowered for word in ("invalid", "not a valid", "checksum", "must be", "length")
    )


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
