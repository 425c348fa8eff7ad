"""Command-line options every role's CLI shares (light: importing this loads no chain client)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, overload

import click

from depin.settings import DEFAULT_HOME, DEFAULT_RPC_URL, CommonSettings

__all__ = ["chain_options"]

F = TypeVar("F", bound=Callable[..., Any])


@overload
def chain_options(func: F, *, settings: type[CommonSettings] = ...) -> F: ...


@overload
def chain_options(
    func: None = None, *, settings: type[CommonSettings] = ...
) -> Callable[[F], F]: ...


def chain_options(
    func: F | None = None, *, settings: type[CommonSettings] = CommonSettings
) -> F | Callable[[F], F]:
    """``--rpc-url`` and ``--home``, on a group or a command: ``@chain_options`` or
    ``@chain_options(settings=AgentSettings)``.

    Left out, they come from ``settings``' environment: the role's own ``<PREFIX>RPC_URL`` /
    ``<PREFIX>HOME``, else ``DEPIN_RPC_URL`` / ``DEPIN_HOME``, else the shared defaults.
    """
    prefix = str(settings.model_config.get("env_prefix") or "DEPIN_")

    def chain() -> CommonSettings:
        # Only the chain fields, under the role's prefix: the role's other fields are not read.
        return CommonSettings(_env_prefix=prefix)  # type: ignore[call-arg]  # pydantic-settings

    def variables(name: str) -> str:
        own = f"${prefix}{name}, " if prefix != "DEPIN_" else ""
        return f"{own}$DEPIN_{name}"

    def decorate(f: F) -> F:
        f = click.option(
            "--home",
            type=click.Path(path_type=Path, file_okay=False),
            default=lambda: chain().home,
            show_default=f"{variables('HOME')} or {DEFAULT_HOME}",
            help="Local state folder (deployments, key stores, databases).",
        )(f)
        f = click.option(
            "--rpc-url",
            default=lambda: chain().rpc_url,
            show_default=f"{variables('RPC_URL')} or {DEFAULT_RPC_URL}",
            help="JSON-RPC endpoint of the chain.",
        )(f)
        return f

    return decorate if func is None else decorate(func)
