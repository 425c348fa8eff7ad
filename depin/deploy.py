"""Deploys the contracts with web3.py and records their addresses per chain id.

``depin deploy`` uses this against any JSON-RPC node with a key store account; for real
networks with ape accounts and hardware wallets, ``ape run deploy`` (scripts/deploy.py) does
the same through ape.
"""

from __future__ import annotations

from collections.abc import Sequence
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


DEFAULT_EPOCH_LENGTH = 600


def deploy_attestation_oracle(
    w3: Web3,
    deployer: LocalAccount,
    folder: Path,
    *,
    registry: str,
    oracles: list[str] | None = None,
    threshold: int | None = None,
    owner: str | None = None,
    epoch_length: int = DEFAULT_EPOCH_LENGTH,
    contract: str = "AttestationOracle",
) -> Deployment:
    """Deploys AttestationOracle against ``registry`` and records it.

    With ``oracles``, the deployer sets the first oracle config (``threshold`` defaults to a
    majority) before handing the contract to ``owner``: a two-step transfer the owner accepts.
    """
    from eth_utils import to_checksum_address

    from depin.chain import transact

    artifact = artifacts.load(contract)
    receipt = deploy_contract(
        w3, deployer, artifact.abi, artifact.bytecode, registry, deployer.address, epoch_length
    )
    address = to_checksum_address(str(receipt["contractAddress"]))
    instance = w3.eth.contract(address=address, abi=artifact.abi)
    if oracles:
        t = threshold if threshold is not None else len(oracles) // 2 + 1
        transact(w3, deployer, instance.functions.setOracleConfig(list(oracles), t))
    if owner and owner.lower() != deployer.address.lower():
        transact(w3, deployer, instance.functions.transferOwnership(owner))
    deployment = Deployment(
        name="AttestationOracle",
        address=address,
        block=int(receipt["blockNumber"]),
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
    )
    deployments.record(folder, w3.eth.chain_id, deployment)
    return deployment


def deploy_registry_and_oracle(
    w3: Web3,
    deployer: LocalAccount,
    folder: Path,
    oracles: Sequence[str],
    *,
    threshold: int = 2,
    epoch_length: int = DEFAULT_EPOCH_LENGTH,
    contract: str = "AttestationOracle",
) -> tuple[Deployment, Deployment]:
    """A ProviderRegistry and an AttestationOracle (or ``contract``) against it whose oracle set
    is ``oracles`` (``threshold`` of them sign a batch), both of ``deployer`` and recorded in
    ``folder``: (the registry, the oracle)."""
    registry = deploy_registry(w3, deployer, folder)
    return registry, deploy_attestation_oracle(
        w3,
        deployer,
        folder,
        registry=registry.address,
        oracles=list(oracles),
        threshold=threshold,
        epoch_length=epoch_length,
        contract=contract,
    )
