"""`depin deploy` deploys and configures the AttestationOracle beside the registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from web3 import Web3

from depin import deployments
from depin._cli.common import dev_account
from depin.attestation_client import AttestationClient
from depin.chain import Anvil
from depin.cli import main

pytestmark = pytest.mark.integration


def test_deploy_configures_three_local_oracles(anvil: Anvil, w3: Web3, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["deploy", "--rpc-url", anvil.rpc_url, "--home", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "AttestationOracle 0x" in result.output
    recorded = deployments.load(tmp_path / "deployments", w3.eth.chain_id, "AttestationOracle")
    client = AttestationClient(w3, recorded.address)
    config = client.config()
    assert config.version == 1 and config.threshold == 2
    assert config.oracles == tuple(dev_account(i).address for i in (2, 3, 4))
    registry = deployments.load(tmp_path / "deployments", w3.eth.chain_id, "ProviderRegistry")
    assert client.registry_address() == registry.address
