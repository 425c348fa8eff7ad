"""Options and helpers shared by the shared package's CLI commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from depin import deployments
from depin.chain import connect
from depin.cli_options import chain_options as chain_options  # the shared CLI option, re-exported
from depin.keys import load_keystore, read_password
from depin.registry import RegistryClient

F = TypeVar("F", bound=Callable[..., Any])


def signer_options(func: F) -> F:
    """``--keystore`` / ``--password-file`` for the account that signs or pays."""
    func = click.option(
        "--password-file",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help="File holding the key store password (else $DEPIN_PASSWORD, else a prompt).",
    )(func)
    func = click.option(
        "--keystore",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        help="eth-account key store (JSON, scrypt) of the signing account.",
    )(func)
    return func


def load_signer(
    keystore: Path | None, password_file: Path | None, *, what: str = "signer"
) -> LocalAccount:
    if keystore is None:
        raise click.UsageError(f"--keystore is required for the {what}")
    password = read_password(
        env_var="DEPIN_PASSWORD", password_file=password_file, prompt=f"Password for {keystore}"
    )
    return load_keystore(keystore, password)


def dev_account(index: int = 0) -> LocalAccount:
    """One of anvil's public test accounts (for local chains only)."""
    from depin.chain import ANVIL_KEYS

    account: LocalAccount = Account.from_key(ANVIL_KEYS[index])
    return account


def registry_client(rpc_url: str, home: Path) -> RegistryClient:
    w3: Web3 = connect(rpc_url)
    deployment = deployments.load(home / "deployments", w3.eth.chain_id, "ProviderRegistry")
    return RegistryClient(w3, deployment.address)
