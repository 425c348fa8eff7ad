"""Deploys the contracts with web3.py and records their addresses per chain id.

``depin deploy`` uses this against any JSON-RPC node with a key store account; for real
networks with ape accounts and hardware wallets, ``ape run deploy`` (scripts/deploy.py) does
the same through ape.
"""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from depin import artifacts, deployments
from depin.chain import deploy as deploy_contract
from depin.deployments import Deployment


def deploy_registry(
    w3: Web3, deployer: LocalAccount, folder: Path, *, owner: str | None = None
) -> Deployment:
    """Deploys ProviderRegistry owned by ``owner`` (the deployer by default) and records it."""
    artifact = artifacts.load("ProviderRegistry")
    receipt = deploy_contract(
        w3, deployer, artifact.abi, artifact.bytecode, owner or deployer.address
    )
    deployment = Deployment(
        name="ProviderRegistry",
        address=str(receipt["contractAddress"]),
        block=int(receipt["blockNumber"]),
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
    )
    deployments.record(folder, w3.eth.chain_id, deployment)
    return deployment
