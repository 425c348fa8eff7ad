"""Deploy the registry contracts to any EVM network with ape and record them per chain id.

    ape run deploy --network ethereum:local:foundry            # a local anvil started by ape
    ape run deploy --network base:sepolia:node                 # DEPIN_BASE_SEPOLIA_RPC_URL
    DEPIN_DEPLOYER=deployer ape run deploy --network ethereum:sepolia:node

The deployer is the ape account named by DEPIN_DEPLOYER (``ape accounts import deployer``, a
hardware wallet through ape's plugins, ...); on a local network the first test account. The
admin (owner) is DEPIN_ADMIN, or the deployer. Addresses go to ``deployments/<chain id>.json`` (local chains: the data folder).
"""

from __future__ import annotations

import os

import click
from ape import accounts, chain, networks, project
from ape.cli import ConnectedProviderCommand, network_option

from depin import deployments
from depin.deployments import REPO_DEPLOYMENTS, Deployment
from depin.settings import DEV_CHAIN_IDS, CommonSettings


def _deployer():  # type: ignore[no-untyped-def]
    alias = os.environ.get("DEPIN_DEPLOYER")
    if alias:
        return accounts.load(alias)
    if networks.provider.network.name not in ("local", "anvil"):
        raise click.ClickException("set DEPIN_DEPLOYER to an ape account alias for this network")
    return accounts.test_accounts[0]


@click.command(cls=ConnectedProviderCommand)
@network_option()
def cli() -> None:
    """Deploy ProviderRegistry (and the attestation contracts when present)."""
    deployer = _deployer()
    admin = os.environ.get("DEPIN_ADMIN", deployer.address)
    registry = project.ProviderRegistry.deploy(admin, sender=deployer)
    receipt = registry.creation_metadata.receipt
    # Local chains are throwaway: record them in the data folder, real networks in the repo.
    folder = (
        CommonSettings().deployments_dir if chain.chain_id in DEV_CHAIN_IDS else REPO_DEPLOYMENTS
    )
    path = deployments.record(
        folder,
        chain.chain_id,
        Deployment(
            name="ProviderRegistry",
            address=str(registry.address),
            block=int(receipt.block_number),
            tx_hash=str(receipt.txn_hash),
        ),
    )
    click.echo(f"ProviderRegistry {registry.address} on chain {chain.chain_id} -> {path}")
