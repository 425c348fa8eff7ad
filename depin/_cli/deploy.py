"""``depin deploy``: deploy the contracts and record their addresses per chain id."""

from __future__ import annotations

from pathlib import Path

import click

from depin._cli.common import chain_options, dev_account, load_signer, signer_options
from depin.chain import connect
from depin.deploy import deploy_registry
from depin.settings import DEV_CHAIN_IDS


@click.command()
@chain_options
@signer_options
@click.option("--owner", default=None, help="Admin of the contracts (default: the deployer).")
def deploy(
    rpc_url: str,
    home: Path,
    keystore: Path | None,
    password_file: Path | None,
    owner: str | None,
) -> None:
    """Deploy ProviderRegistry and record it under HOME/deployments/<chain id>.json.

    On a local chain (31337/1337) the first anvil test account deploys unless --keystore is
    given; on any other chain a key store is required.
    """
    w3 = connect(rpc_url)
    chain_id = w3.eth.chain_id
    if keystore is None and chain_id in DEV_CHAIN_IDS:
        deployer = dev_account(0)
    else:
        deployer = load_signer(keystore, password_file, what="deployer")
    registry = deploy_registry(w3, deployer, home / "deployments", owner=owner)
    click.echo(f"ProviderRegistry {registry.address} (chain {chain_id}, block {registry.block})")
