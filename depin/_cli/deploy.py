"""``depin deploy``: deploy the contracts and record their addresses per chain id."""

from __future__ import annotations

from pathlib import Path

import click

from depin._cli.common import chain_options, dev_account, load_signer, signer_options
from depin.chain import connect
from depin.deploy import DEFAULT_EPOCH_LENGTH, deploy_attestation_oracle, deploy_registry
from depin.settings import DEV_CHAIN_IDS

# Anvil accounts that act as the three local oracles (public test keys).
DEV_ORACLE_INDICES = (2, 3, 4)


@click.command()
@chain_options
@signer_options
@click.option("--owner", default=None, help="Admin of the contracts (default: the deployer).")
@click.option(
    "--oracle",
    "oracles",
    multiple=True,
    help="Oracle address (repeat). Default on a local chain: anvil accounts 2, 3 and 4.",
)
@click.option(
    "--threshold", type=int, default=None, help="Oracle signatures needed (default: a majority)."
)
@click.option(
    "--epoch-length",
    type=int,
    default=DEFAULT_EPOCH_LENGTH,
    show_default=True,
    help="Seconds per liveness epoch.",
)
def deploy(
    rpc_url: str,
    home: Path,
    keystore: Path | None,
    password_file: Path | None,
    owner: str | None,
    oracles: tuple[str, ...],
    threshold: int | None,
    epoch_length: int,
) -> None:
    """Deploy ProviderRegistry and AttestationOracle; record them under HOME/deployments/.

    On a local chain (31337/1337) the first anvil test account deploys unless --keystore is
    given, and three anvil accounts are the oracles with threshold 2; on any other chain a key
    store and the --oracle addresses are required.
    """
    w3 = connect(rpc_url)
    chain_id = w3.eth.chain_id
    if keystore is None and chain_id in DEV_CHAIN_IDS:
        deployer = dev_account(0)
    else:
        deployer = load_signer(keystore, password_file, what="deployer")
    registry = deploy_registry(w3, deployer, home / "deployments", owner=owner)
    click.echo(f"ProviderRegistry {registry.address} (chain {chain_id}, block {registry.block})")
    oracle_list = list(oracles)
    if not oracle_list and chain_id in DEV_CHAIN_IDS:
        oracle_list = [dev_account(i).address for i in DEV_ORACLE_INDICES]
        threshold = 2 if threshold is None else threshold
    if not oracle_list:
        raise click.UsageError("--oracle is required (repeat it for each oracle) on this chain")
    oracle = deploy_attestation_oracle(
        w3,
        deployer,
        home / "deployments",
        registry=registry.address,
        oracles=oracle_list,
        threshold=threshold,
        owner=owner,
        epoch_length=epoch_length,
    )
    click.echo(
        f"AttestationOracle {oracle.address} (block {oracle.block}, "
        f"{len(oracle_list)} oracles, threshold {threshold or len(oracle_list) // 2 + 1})"
    )
