"""Deploy and configure the contracts on any EVM network with ape; record them per chain id.

    ape run deploy --network ethereum:local:foundry            # a local anvil started by ape
    DEPIN_DEPLOYER=deployer DEPIN_ORACLES=0xA,0xB,0xC DEPIN_THRESHOLD=2 \\
        ape run deploy --network base:sepolia:node             # DEPIN_BASE_SEPOLIA_RPC_URL

Environment:
    DEPIN_DEPLOYER      ape account alias that deploys (``ape accounts import deployer``, or a
                        hardware wallet through ape's plugins); a test account on local networks
    DEPIN_ADMIN         owner of both contracts (a Safe, say); default the deployer. Ownership is
                        two-step: the admin must call ``acceptOwnership()`` on each contract
    DEPIN_ORACLES       comma-separated oracle addresses; local default: test accounts 2, 3, 4
    DEPIN_THRESHOLD     oracle signatures required (default: a majority)
    DEPIN_EPOCH_LENGTH  seconds per liveness epoch (default 600)

Addresses go to ``deployments/<chain id>.json`` (local chains: the data folder).
"""

from __future__ import annotations

import os
from typing import Any

import click
from ape import accounts, chain, networks, project
from ape.cli import ConnectedProviderCommand, network_option

from depin import deployments
from depin.deployments import REPO_DEPLOYMENTS, Deployment
from depin.settings import DEV_CHAIN_IDS, CommonSettings


def _is_local() -> bool:
    return networks.provider.network.name in ("local", "anvil") or chain.chain_id in DEV_CHAIN_IDS


def _deployer() -> Any:
    alias = os.environ.get("DEPIN_DEPLOYER")
    if alias:
        return accounts.load(alias)
    if not _is_local():
        raise click.ClickException("set DEPIN_DEPLOYER to an ape account alias for this network")
    return accounts.test_accounts[0]


def _oracles() -> list[str]:
    raw = os.environ.get("DEPIN_ORACLES", "")
    if raw.strip():
        return [a.strip() for a in raw.split(",") if a.strip()]
    if not _is_local():
        raise click.ClickException("set DEPIN_ORACLES to the oracle addresses (comma-separated)")
    return [accounts.test_accounts[i].address for i in (2, 3, 4)]


def _record(folder: Any, name: str, contract: Any) -> None:
    receipt = contract.creation_metadata.receipt
    deployments.record(
        folder,
        chain.chain_id,
        Deployment(
            name=name,
            address=str(contract.address),
            block=int(receipt.block_number),
            tx_hash=str(receipt.txn_hash),
        ),
    )


@click.command(cls=ConnectedProviderCommand)
@network_option()
def cli() -> None:
    """Deploy ProviderRegistry and AttestationOracle, set the oracle config, hand over admin."""
    deployer = _deployer()
    admin = os.environ.get("DEPIN_ADMIN", deployer.address)
    oracles = _oracles()
    threshold = int(os.environ.get("DEPIN_THRESHOLD", len(oracles) // 2 + 1))
    epoch_length = int(os.environ.get("DEPIN_EPOCH_LENGTH", 600))
    # Local chains are throwaway: record them in the data folder, real networks in the repo.
    folder = (
        CommonSettings().deployments_dir if chain.chain_id in DEV_CHAIN_IDS else REPO_DEPLOYMENTS
    )

    registry = project.ProviderRegistry.deploy(admin, sender=deployer)
    _record(folder, "ProviderRegistry", registry)
    oracle = project.AttestationOracle.deploy(
        registry.address, deployer.address, epoch_length, sender=deployer
    )
    oracle.setOracleConfig(oracles, threshold, sender=deployer)
    if admin.lower() != deployer.address.lower():
        oracle.transferOwnership(admin, sender=deployer)
    _record(folder, "AttestationOracle", oracle)
    click.echo(f"ProviderRegistry {registry.address} on chain {chain.chain_id}")
    click.echo(
        f"AttestationOracle {oracle.address}: {len(oracles)} oracles, threshold {threshold}, "
        f"epoch {epoch_length}s"
    )
    click.echo(f"recorded in {folder / f'{chain.chain_id}.json'}")
