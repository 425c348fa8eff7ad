"""A whole local network in processes: anvil, `depin deploy`, three `depin oracle serve` (t = 2)
on real ports, and helpers to run `depin agent run` against them."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator

import pytest
from e2e_helpers import (
    EPOCH_LENGTH,
    Network,
    OracleProcess,
    depin_argv,
)

from depin import deployments
from depin.attestation_client import AttestationClient
from depin.chain import Anvil, connect, free_port
from depin.registry import RegistryClient


@pytest.fixture(scope="module")
def network(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Network]:
    """A module's network; a module may set its own ``EPOCH_LENGTH`` (seconds) and
    ``BLOCK_TIME`` (seconds between blocks; default: a block per transaction)."""
    epoch_length = int(getattr(request.module, "EPOCH_LENGTH", EPOCH_LENGTH))
    tmp = tmp_path_factory.mktemp("e2e")
    home = tmp / "home"
    anvil = Anvil(port=free_port(), block_time=getattr(request.module, "BLOCK_TIME", None)).start()
    env = {
        **os.environ,
        "DEPIN_HOME": str(home),
        "DEPIN_RPC_URL": anvil.rpc_url,
        "DEPIN_ORACLE_HOME": str(home),
        "DEPIN_ORACLE_RPC_URL": anvil.rpc_url,
        "DEPIN_ORACLE_ALLOW_SIMULATED": "true",
        "DEPIN_ORACLE_BATCH_AGE_S": "0.2",
        "DEPIN_ORACLE_POLL_S": "0.2",
        "DEPIN_ORACLE_AUTHORIZATION_TTL_S": "0.2",
        "DEPIN_ORACLE_RESEND_AFTER_S": "2",
    }
    oracles: list[OracleProcess] = []
    try:
        subprocess.run(
            depin_argv(
                "deploy", "--rpc-url", anvil.rpc_url, "--home", str(home),
                "--epoch-length", str(epoch_length),
            ),
            env=env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        for i in range(3):
            subprocess.run(
                depin_argv("oracle", "init", "--name", f"o{i}", "--dev-index", str(2 + i)),
                env=env, check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            oracles.append(OracleProcess(f"o{i}", i, free_port(), env, tmp / f"o{i}.log"))
        for oracle in oracles:
            oracle.start([o.url for o in oracles if o is not oracle])
        for oracle in oracles:
            oracle.wait_ready()
        w3 = connect(anvil.rpc_url)
        chain_id = w3.eth.chain_id
        folder = home / "deployments"
        registry_address = deployments.load(folder, chain_id, "ProviderRegistry").address
        registry = RegistryClient(w3, registry_address)
        client = AttestationClient(
            w3, deployments.load(folder, chain_id, "AttestationOracle").address
        )
        net = Network(home, anvil, w3, registry, client, oracles, env, tmp)
        yield net
        for process in net.agents:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    finally:
        for oracle in oracles:
            oracle.stop()
        anvil.stop()
